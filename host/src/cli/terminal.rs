//! Terminal settings that survive an interrupted prompt.
//!
//! A no-echo prompt turns the terminal's echo off until it returns. When lahat
//! ends inside one, through Ctrl-C or a run's time limit, the prompt never
//! restores the terminal, so `main` saves the settings at start and puts them
//! back on every exit.

/// The terminal settings at start, when lahat has a controlling terminal.
pub struct SavedTerminal {
    #[cfg(unix)]
    tty: std::fs::File,
    #[cfg(unix)]
    settings: libc::termios,
}

impl SavedTerminal {
    /// Saves the controlling terminal's settings; `None` without a terminal.
    #[cfg(unix)]
    pub fn capture() -> Option<Self> {
        use std::os::fd::AsRawFd;

        let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").ok()?;
        let mut settings = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: `tcgetattr` fills `settings` and returns 0 on success, and
        // `settings` is read only after that.
        let captured = unsafe { libc::tcgetattr(tty.as_raw_fd(), settings.as_mut_ptr()) } == 0;
        if !captured {
            return None;
        }
        // SAFETY: `tcgetattr` succeeded, so `settings` is initialised.
        let settings = unsafe { settings.assume_init() };
        Some(Self { tty, settings })
    }

    /// Saves nothing on platforms without termios.
    #[cfg(not(unix))]
    pub fn capture() -> Option<Self> {
        None
    }

    /// Puts the saved settings back.
    pub fn restore(&self) {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: `tty` is an open terminal and `settings` came from
            // `tcgetattr` on it. A failure leaves the terminal as it is.
            unsafe {
                libc::tcsetattr(self.tty.as_raw_fd(), libc::TCSANOW, &self.settings);
            }
        }
    }
}
