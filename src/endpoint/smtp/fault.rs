//! How one session's fault plays out: [`SessionFault`] decides which
//! commands it strikes and what the client sees, and journals the one
//! `FaultHit` of the session when the fault first takes effect.
//!
//! A fault strikes the first command at or past its stage (an `auth` fault
//! also strikes a MAIL sent without AUTH: the session cannot get past the
//! stage). Commands that belong to no stage (NOOP, RSET, VRFY, HELP) pass,
//! except after a `connect`/`greeting` fault, which leaves nothing to pass;
//! QUIT always passes. `slow` strikes nothing: from its stage on, every
//! reply waits. Nothing here does I/O.

use std::time::Duration;

use crate::endpoint::FaultBoard;
use crate::scenario::model::{FailMode, Fault, Stage};

use super::reply;

/// `slow` without a `delay`.
pub const DEFAULT_SLOW_DELAY: Duration = Duration::from_secs(1);

/// Where a command sits in a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// At a stage: the greeting, EHLO/HELO/STARTTLS, AUTH, MAIL, RCPT,
    /// DATA, the end of a message.
    At(Stage),
    /// NOOP, RSET, VRFY, HELP, unknown commands: part of no stage.
    Anywhere,
    /// QUIT.
    Quit,
}

impl Position {
    /// The position of a command line, from its verb alone, so that a
    /// malformed `MAIL` is still a MAIL.
    pub fn of_line(line: &[u8]) -> Position {
        let verb = line
            .iter()
            .skip_while(|b| **b == b' ')
            .take_while(|b| b.is_ascii_alphanumeric())
            .take(9)
            .map(u8::to_ascii_uppercase)
            .collect::<Vec<u8>>();
        match verb.as_slice() {
            b"EHLO" | b"HELO" | b"STARTTLS" => Position::At(Stage::Ehlo),
            b"AUTH" => Position::At(Stage::Auth),
            b"MAIL" => Position::At(Stage::Mail),
            b"RCPT" => Position::At(Stage::Rcpt),
            b"DATA" | b"BDAT" => Position::At(Stage::Data),
            b"QUIT" => Position::Quit,
            _ => Position::Anywhere,
        }
    }
}

/// What a striking fault does instead of the normal reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Send this reply instead; close after it when `closes` (a 421).
    Reply { line: String, closes: bool },
    /// Close the connection without a reply; `reset` sends a TCP RST.
    Drop { reset: bool },
    /// Stop answering; read and discard until the peer gives up.
    Hang,
}

/// The fault one session was given by [`FaultBoard::begin`].
#[derive(Debug)]
pub struct SessionFault {
    fault: Fault,
    mode: FailMode,
    hit: bool,
}

impl SessionFault {
    pub fn new(fault: Fault) -> SessionFault {
        // HTTP-only modes cannot reach an SMTP channel past validation; if
        // one does, failing like `defer` is closer to the user's intent
        // than succeeding.
        let mode = match fault.fail {
            FailMode::Throttle | FailMode::Unavailable | FailMode::Error => FailMode::Defer,
            mode => mode,
        };
        SessionFault {
            fault,
            mode,
            hit: false,
        }
    }

    /// Decides what happens to the command at `position`: `None` lets it go
    /// on normally (perhaps slowly, see [`Self::delay`]). Journals the hit
    /// on `board` the first time the fault takes effect.
    pub fn strike(
        &mut self,
        position: Position,
        board: &FaultBoard,
        channel: &str,
    ) -> Option<Effect> {
        let stage = self.fault.stage();
        let reached = match position {
            Position::At(at) => at >= stage,
            Position::Anywhere => stage <= Stage::Greeting,
            Position::Quit => false,
        };
        let effect = match self.mode {
            // Refused by the listener when the rate is 1; a session that
            // exists anyway was picked by the rate draw and is reset at once.
            FailMode::Refuse => Some(Effect::Drop { reset: true }),
            FailMode::Slow => {
                if reached && !self.hit {
                    self.record_hit(board, channel);
                }
                return None;
            }
            _ if !reached => None,
            FailMode::Drop => Some(Effect::Drop {
                reset: stage == Stage::Connect,
            }),
            FailMode::Hang => Some(Effect::Hang),
            _ => {
                let line = reply::single_line(&self.fault.smtp_reply());
                let closes = reply::closes(&line);
                Some(Effect::Reply { line, closes })
            }
        };
        if effect.is_some() && !self.hit {
            self.record_hit(board, channel);
        }
        effect
    }

    /// How long every reply waits, once a `slow` fault has struck.
    pub fn delay(&self) -> Option<Duration> {
        (self.mode == FailMode::Slow && self.hit).then(|| {
            self.fault
                .delay
                .map(|d| d.as_duration())
                .unwrap_or(DEFAULT_SLOW_DELAY)
        })
    }

    /// Whether the fault has taken effect in this session.
    pub fn hit(&self) -> bool {
        self.hit
    }

    fn record_hit(&mut self, board: &FaultBoard, channel: &str) {
        self.hit = true;
        board.hit(channel, &self.fault);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drill::clock::Clock;
    use crate::drill::journal::Journal;
    use std::sync::Arc;

    fn fault(fail: FailMode, stage: Stage, reply: Option<&str>) -> Fault {
        Fault {
            fail,
            stage: Some(stage),
            reply: reply.map(str::to_string),
            status: None,
            retry_after: None,
            delay: None,
            rate: None,
        }
    }

    fn board() -> (Arc<Journal>, Arc<FaultBoard>) {
        let journal = Journal::in_memory(Clock::start());
        let board = FaultBoard::new(1, ["mail"], journal.clone());
        (journal, board)
    }

    fn failed(journal: &Journal) -> u64 {
        journal.with_state(|s| s.fault_counts().get("mail").map_or(0, |c| c.failed))
    }

    #[test]
    fn positions_come_from_the_verb() {
        assert_eq!(
            Position::of_line(b"mail FROM:<>\r\n"),
            Position::At(Stage::Mail)
        );
        assert_eq!(
            Position::of_line(b"MAIL garbage\r\n"),
            Position::At(Stage::Mail)
        );
        assert_eq!(
            Position::of_line(b"StartTLS\r\n"),
            Position::At(Stage::Ehlo)
        );
        assert_eq!(Position::of_line(b"QUIT\r\n"), Position::Quit);
        assert_eq!(Position::of_line(b"NOOP\r\n"), Position::Anywhere);
        assert_eq!(Position::of_line(b"\xff\x00DATA\r\n"), Position::Anywhere);
        assert_eq!(Position::of_line(b"DATAX\r\n"), Position::Anywhere);
    }

    #[test]
    fn a_stage_fault_strikes_at_and_past_its_stage_and_hits_once() {
        let (journal, board) = board();
        let busy = "451 4.7.500 Server busy. Please try again later";
        let mut f = SessionFault::new(fault(FailMode::Defer, Stage::Rcpt, Some(busy)));
        assert_eq!(
            f.strike(Position::At(Stage::Greeting), &board, "mail"),
            None
        );
        assert_eq!(f.strike(Position::At(Stage::Mail), &board, "mail"), None);
        assert_eq!(
            failed(&journal),
            0,
            "not reached yet: an attempt, not a hit"
        );
        let expected = Some(Effect::Reply {
            line: busy.to_string(),
            closes: false,
        });
        assert_eq!(
            f.strike(Position::At(Stage::Rcpt), &board, "mail"),
            expected
        );
        assert_eq!(
            f.strike(Position::At(Stage::Rcpt), &board, "mail"),
            expected
        );
        assert_eq!(
            f.strike(Position::At(Stage::Data), &board, "mail"),
            expected
        );
        assert_eq!(f.strike(Position::Anywhere, &board, "mail"), None);
        assert_eq!(f.strike(Position::Quit, &board, "mail"), None);
        assert_eq!(failed(&journal), 1);
    }

    #[test]
    fn a_greeting_fault_leaves_only_quit() {
        let (_journal, board) = board();
        let mut f = SessionFault::new(fault(FailMode::Reject, Stage::Greeting, None));
        let reject = Some(Effect::Reply {
            line: "550 5.7.708 Service unavailable".to_string(),
            closes: false,
        });
        assert_eq!(
            f.strike(Position::At(Stage::Greeting), &board, "mail"),
            reject
        );
        assert_eq!(f.strike(Position::Anywhere, &board, "mail"), reject);
        assert_eq!(f.strike(Position::Quit, &board, "mail"), None);
    }

    #[test]
    fn defaults_close_after_421_and_drop_resets_only_at_connect() {
        let (_journal, board) = board();
        let mut defer = SessionFault::new(fault(FailMode::Defer, Stage::Ehlo, None));
        let closing = defer.strike(Position::At(Stage::Ehlo), &board, "mail");
        assert!(matches!(closing, Some(Effect::Reply { closes: true, .. })));
        let mut at_connect = SessionFault::new(fault(FailMode::Drop, Stage::Connect, None));
        let greeting = Position::At(Stage::Greeting);
        let reset = Some(Effect::Drop { reset: true });
        assert_eq!(at_connect.strike(greeting, &board, "mail"), reset);
        let mut at_data = SessionFault::new(fault(FailMode::Drop, Stage::Data, None));
        let data = Position::At(Stage::Data);
        assert_eq!(
            at_data.strike(data, &board, "mail"),
            Some(Effect::Drop { reset: false })
        );
    }

    #[test]
    fn slow_delays_every_reply_from_its_stage_on() {
        let (journal, board) = board();
        let mut f = SessionFault::new(fault(FailMode::Slow, Stage::Mail, None));
        assert_eq!(f.strike(Position::At(Stage::Ehlo), &board, "mail"), None);
        assert_eq!(f.delay(), None);
        assert_eq!(f.strike(Position::At(Stage::Mail), &board, "mail"), None);
        assert_eq!(f.delay(), Some(DEFAULT_SLOW_DELAY));
        assert_eq!(f.strike(Position::Quit, &board, "mail"), None);
        assert_eq!(f.delay(), Some(DEFAULT_SLOW_DELAY));
        assert_eq!(failed(&journal), 1);
    }
}
