//! Pauses that let a person follow the demo; `--fast` removes them all.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Pace {
    fast: bool,
}

impl Pace {
    pub fn new(fast: bool) -> Self {
        Pace { fast }
    }

    /// Before each beat, after the previous one's answer.
    pub fn between_beats(&self) {
        self.pause(Duration::from_millis(1500));
    }

    /// Once a cancelled beat has started talking, so its start can be seen.
    pub fn before_cancel(&self) {
        self.pause(Duration::from_millis(1200));
    }

    /// While the editor "reads" a permission prompt.
    pub fn before_decision(&self) {
        self.pause(Duration::from_millis(900));
    }

    fn pause(&self, length: Duration) {
        if !self.fast {
            std::thread::sleep(length);
        }
    }
}
