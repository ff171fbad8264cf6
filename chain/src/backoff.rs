//! The wait of a service loop between its steps: the poll interval while steps succeed, then
//! doubling after each failed step (an RPC node or database that is down is not hammered), up to
//! 64 polls or 30 seconds, whichever is shorter.

use std::time::Duration;

/// The longest wait after failures, whatever the poll interval.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// The wait after a failed step, growing with consecutive failures and reset by a success.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    poll: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `poll`, the loop's wait when it has nothing to do.
    pub fn new(poll: Duration) -> Self {
        Self { poll, next: poll }
    }

    /// A step succeeded: the next failure waits `poll` again.
    pub fn succeeded(&mut self) {
        self.next = self.poll;
    }

    /// A step failed: how long to wait before the next one (the following failure waits twice
    /// as long).
    pub fn failed(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min((self.poll * 64).min(MAX_WAIT));
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_64_polls_and_resets_on_success() {
        let poll = Duration::from_millis(100);
        let mut b = Backoff::new(poll);
        let waits: Vec<u128> = (0..9).map(|_| b.failed().as_millis()).collect();
        assert_eq!(
            waits,
            [100, 200, 400, 800, 1_600, 3_200, 6_400, 6_400, 6_400]
        );
        b.succeeded();
        assert_eq!(b.failed(), poll);
    }

    #[test]
    fn never_waits_more_than_30_seconds() {
        let mut b = Backoff::new(Duration::from_secs(2));
        let waits: Vec<u64> = (0..6).map(|_| b.failed().as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 30, 30]);
    }
}
