//! What every firmware binary shares on the microcontroller: the defmt
//! transport, the panic handler (except with feature `panic-never`), the
//! exit code, instruction (QEMU) or cycle (board) counting, and stack
//! painting.

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::exception;

#[cfg(all(feature = "board", not(feature = "qemu")))]
use defmt_rtt as _;
#[cfg(all(feature = "qemu", not(feature = "panic-never")))]
use defmt_semihosting as _;

/// The defmt transport of the panic-never binaries: `defmt-semihosting`'s,
/// without its panics (it panics when taken reentrantly, a case these
/// single-threaded binaries never reach; here that is ignored), so that
/// their link proves the absence of panic paths in what they run, not in
/// the logger. The same frames on the host's stdout (semihosting
/// `SYS_WRITE`), decoded by `defmt-print` as for every other binary.
#[cfg(all(feature = "qemu", feature = "panic-never"))]
mod logger {
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicBool, Ordering};
    use cortex_m_semihosting::hio::{self, HostStream};

    #[defmt::global_logger]
    struct Logger;

    struct State {
        encoder: UnsafeCell<defmt::Encoder>,
        stdout: UnsafeCell<Option<HostStream>>,
    }

    // SAFETY: only touched between `acquire` and `release`, with
    // interrupts masked (single core).
    unsafe impl Sync for State {}

    static STATE: State = State {
        encoder: UnsafeCell::new(defmt::Encoder::new()),
        stdout: UnsafeCell::new(None),
    };
    /// Whether interrupts were enabled at `acquire` (to restore them).
    static ENABLED: AtomicBool = AtomicBool::new(false);

    /// Runs `f` with the encoder and a sink that writes to the host.
    ///
    /// # Safety
    /// Between `acquire` and `release` (interrupts masked).
    unsafe fn with(f: impl FnOnce(&mut defmt::Encoder, &mut dyn FnMut(&[u8]))) {
        // SAFETY: exclusive inside the critical section `acquire` opened.
        let (encoder, stdout) = unsafe { (&mut *STATE.encoder.get(), &mut *STATE.stdout.get()) };
        if stdout.is_none() {
            *stdout = hio::hstdout().ok();
        }
        let mut sink = |b: &[u8]| {
            if let Some(h) = stdout.as_mut() {
                let _ = h.write_all(b);
            }
        };
        f(encoder, &mut sink);
    }

    // SAFETY: frames are written only between `acquire` and `release`, in
    // a critical section (interrupts masked on this single core).
    unsafe impl defmt::Logger for Logger {
        fn acquire() {
            let enabled = cortex_m::register::primask::read().is_inactive();
            cortex_m::interrupt::disable();
            ENABLED.store(enabled, Ordering::Relaxed);
            // SAFETY: in the critical section just opened.
            unsafe { with(|e, w| e.start_frame(w)) };
        }

        unsafe fn flush() {}

        unsafe fn release() {
            // SAFETY: the caller acquired.
            unsafe { with(|e, w| e.end_frame(w)) };
            if ENABLED.load(Ordering::Relaxed) {
                // SAFETY: restores the state `acquire` found.
                unsafe { cortex_m::interrupt::enable() };
            }
        }

        unsafe fn write(bytes: &[u8]) {
            // SAFETY: the caller acquired.
            unsafe { with(|e, w| e.write(bytes, w)) };
        }
    }
}

#[cfg(feature = "qemu")]
/// Reads the host file `path` (NUL-terminated) into `buf`; its length, or
/// `None` if it cannot be opened, does not fit, or reads short.
pub fn read_host_file(path: &[u8], buf: &mut [u8]) -> Option<usize> {
    let name_len = path.len().checked_sub(1)?;
    // SAFETY: SYS_OPEN reads `name_len` bytes of `path` (NUL-terminated, live
    // for the call); QEMU's semihosting implements it for the host's files.
    let fd = unsafe {
        cortex_m_semihosting::syscall!(
            OPEN,
            path.as_ptr(),
            cortex_m_semihosting::nr::open::R_BINARY,
            name_len
        )
    } as isize;
    if fd < 0 {
        return None;
    }
    // SAFETY: SYS_FLEN on the handle just opened.
    let len = unsafe { cortex_m_semihosting::syscall!(FLEN, fd) } as isize;
    let fits = len >= 0 && (len as usize) <= buf.len();
    // SAFETY: SYS_READ writes at most `len` bytes into `buf`, which holds at
    // least `len` bytes when `fits`.
    let unread = if fits {
        unsafe { cortex_m_semihosting::syscall!(READ, fd, buf.as_mut_ptr(), len) }
    } else {
        usize::MAX
    };
    // SAFETY: SYS_CLOSE on the handle opened above, once.
    unsafe { cortex_m_semihosting::syscall!(CLOSE, fd) };
    (fits && unread == 0).then_some(len as usize)
}

/// Ends the program: on QEMU the exit code leaves through semihosting
/// (0 = success); on a board the core stops at a breakpoint (probe-rs ends
/// the run there).
pub fn exit(success: bool) -> ! {
    #[cfg(feature = "qemu")]
    {
        use cortex_m_semihosting::debug;
        debug::exit(if success {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
    }
    let _ = success;
    loop {
        cortex_m::asm::bkpt();
    }
}

// The panic-never binaries bring their own (one that cannot link).
#[cfg(not(feature = "panic-never"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // Through defmt (text from hprintln! would be skipped by defmt-print).
    defmt::error!("panic: {}", defmt::Display2Format(info));
    exit(false)
}

#[exception]
unsafe fn HardFault(_frame: &cortex_m_rt::ExceptionFrame) -> ! {
    defmt::error!("hard fault");
    exit(false)
}

/// SysTick wraps since [`Ticks::start`] (24-bit counter).
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    // Load and store, not fetch_add: Armv6-M has no atomic read-modify-write,
    // and only this handler writes WRAPS.
    WRAPS.store(
        WRAPS.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// A free-running 64-bit tick count from SysTick (core clock), with wraps
/// counted in the SysTick exception.
///
/// Under QEMU with `-icount shift=N` the core clock is virtual time driven by
/// executed instructions, so ticks measure instructions exactly (at
/// `shift=6` on mps2: 1.6 ticks per instruction); [`Ticks::calibrate`]
/// measures the ratio instead of assuming it. On a board SysTick counts core
/// cycles.
pub struct Ticks {
    syst: SYST,
    /// Ticks a back-to-back `now()` pair reads (subtracted by `measure`).
    overhead: u64,
    /// Ticks per 1,000 instructions, from the calibration loop.
    per_kilo_instr: u64,
}

impl Ticks {
    /// Starts SysTick from the core clock, reload 2^24 − 1, with the wrap
    /// exception enabled; on a board also the DWT cycle counter, which
    /// `now` then reads.
    pub fn start(mut syst: SYST) -> Self {
        #[cfg(all(feature = "board", not(feature = "qemu")))]
        {
            // SAFETY: enabling the trace block and the cycle counter only
            // starts a counter; nothing else in the firmware uses them.
            let mut cp = unsafe { cortex_m::Peripherals::steal() };
            cp.DCB.enable_trace();
            cp.DWT.enable_cycle_counter();
        }
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00ff_ffff);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        let mut t = Ticks {
            syst,
            overhead: 0,
            per_kilo_instr: 1000,
        };
        t.calibrate();
        t
    }

    /// Ticks since start: SysTick with its wraps (QEMU), or DWT CYCCNT
    /// (board: core cycles; QEMU does not model it and reads 0).
    #[inline(always)]
    pub fn now(&self) -> u64 {
        let _ = &self.syst;
        #[cfg(all(feature = "board", not(feature = "qemu")))]
        {
            // 32 bits: measurements must stay below 2^32 cycles (tens of
            // seconds), and `measure` subtracts with wrapping.
            return cortex_m::peripheral::DWT::cycle_count() as u64;
        }
        #[allow(unreachable_code)]
        loop {
            let w1 = WRAPS.load(Ordering::SeqCst);
            let cur = SYST::get_current();
            let w2 = WRAPS.load(Ordering::SeqCst);
            if w1 == w2 {
                return ((w1 as u64) << 24) | (0x00ff_ffff - cur) as u64;
            }
        }
    }

    /// Measures the read overhead and the ticks of 1,000 instructions (an
    /// unrolled run of `nop`s: one instruction each, no memory access).
    pub fn calibrate(&mut self) {
        let mut best = u64::MAX;
        for _ in 0..4 {
            let a = self.now();
            let b = self.now();
            best = best.min(b.wrapping_sub(a) & self.mask());
        }
        self.overhead = best;
        let a = self.now();
        // SAFETY: 1,000 `nop`s touch no register or memory.
        unsafe {
            core::arch::asm!(
                ".rept 1000",
                "nop",
                ".endr",
                options(nomem, nostack, preserves_flags)
            )
        };
        let b = self.now();
        self.per_kilo_instr = (b.wrapping_sub(a) & self.mask())
            .saturating_sub(self.overhead)
            .max(1);
    }

    /// The counter's width: 64 bits from SysTick + wraps, 32 from CYCCNT.
    fn mask(&self) -> u64 {
        if cfg!(all(feature = "board", not(feature = "qemu"))) {
            u32::MAX as u64
        } else {
            u64::MAX
        }
    }

    /// Ticks per 1,000 instructions (1,600 under QEMU `-icount shift=6`;
    /// on a board, cycles per 1,000 `nop`s).
    pub fn ticks_per_kilo_instr(&self) -> u64 {
        self.per_kilo_instr
    }

    /// The instructions `ticks` (a difference of two [`Ticks::now`]
    /// readings) stand for, the read overhead subtracted, rounded to
    /// nearest.
    #[inline(always)]
    pub fn instructions(&self, ticks: u64) -> u64 {
        let ticks = (ticks & self.mask()).saturating_sub(self.overhead);
        (ticks * 1000 + self.per_kilo_instr / 2) / self.per_kilo_instr
    }

    /// Runs `f` and returns its result with the instructions it took
    /// (ticks scaled by the calibration, rounded to nearest).
    #[inline(always)]
    pub fn measure<R>(&self, f: impl FnOnce() -> R) -> (R, u64) {
        let a = self.now();
        let r = f();
        let b = self.now();
        let ticks = b.wrapping_sub(a) & self.mask();
        let ticks = ticks.saturating_sub(self.overhead);
        (
            r,
            (ticks * 1000 + self.per_kilo_instr / 2) / self.per_kilo_instr,
        )
    }
}

#[cfg(thumb2)]
/// Stack painting: fill the free stack below the stack pointer with a
/// pattern, run something, and find the deepest word it overwrote.
pub mod stack {
    /// The paint pattern.
    const PAINT: u32 = 0xCAFE_F00D;

    /// Runs `f` in a frame of its own (so its stack is allocated after the
    /// paint, not merged into the caller's).
    #[inline(never)]
    fn run<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    /// The bytes of stack `f` uses below the current stack pointer (its
    /// frame included), measured by painting `depth` bytes first.
    #[inline(always)]
    pub fn usage<R>(depth: usize, f: impl FnOnce() -> R) -> (R, usize) {
        let high: usize;
        let low: usize;
        // SAFETY: paints [SP − depth, SP) word by word: free stack below the
        // stack pointer (the caller keeps `depth` within the RAM left above
        // the statics). The block makes no call and pushes nothing, and
        // interrupts are off while it runs, so nothing else writes there.
        unsafe {
            core::arch::asm!(
                "mov {hi}, sp",
                "bic {hi}, {hi}, #7",
                "sub {lo}, {hi}, {depth}",
                "mov {p}, {lo}",
                "cpsid i",
                "2:",
                "str {pat}, [{p}], #4",
                "cmp {p}, {hi}",
                "blo 2b",
                "cpsie i",
                hi = out(reg) high,
                lo = out(reg) low,
                p = out(reg) _,
                depth = in(reg) depth,
                pat = in(reg) PAINT,
                options(nostack),
            );
        }
        let r = run(f);
        let mut p = low;
        while p < high {
            // SAFETY: the painted window is plain RAM below the stack pointer.
            if unsafe { core::ptr::read_volatile(p as *const u32) } != PAINT {
                break;
            }
            p += 4;
        }
        (r, high - p)
    }
}
