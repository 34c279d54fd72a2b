//! Runs: how a session's events are found again without an index entry per event. A run is seq
//! `first_seq..=last_seq` of one session, whose rows are those of that session between rowids
//! `first_id` and `last_id`, in rowid order; rows of other sessions may sit between them. A run
//! with no other rows (rowid and seq rise in step) grows as long as the session streams alone,
//! and replay starts at the exact row; a run with other rows ends after `RUN_SPAN` rowids or a
//! gap of more than `RUN_GAP` other rows. So replay skips few rows: at most `RUN_SPAN` at the
//! start of a chunk, never more than `RUN_GAP` in a row, and the runs written are about one per
//! transaction and session, or one per `RUN_SPAN / sessions` events when sessions take turns.
//! Knows the `runs` table; nothing of the events' columns.

use rusqlite::{Transaction, params};

/// Rowids one run covers at most.
const RUN_SPAN: i64 = 128;
/// Other sessions' rows between two rows of one run, at most.
const RUN_GAP: i64 = 16;

const INSERT_RUN: &str = "INSERT INTO runs (session, last_seq, first_seq, first_id, last_id) \
                          VALUES (?1, ?2, ?3, ?4, ?5)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Run {
    first_seq: i64,
    first_id: i64,
    last_seq: i64,
    last_id: i64,
}

impl Run {
    fn start(seq: i64, id: i64) -> Self {
        Run {
            first_seq: seq,
            first_id: id,
            last_seq: seq,
            last_id: id,
        }
    }

    /// No other session's rows in it.
    fn dense(&self) -> bool {
        self.last_id - self.first_id == self.last_seq - self.first_seq
    }

    /// Whether the session's next row, at rowid `id`, may join this run.
    fn admits(&self, id: i64) -> bool {
        let stays_dense = self.dense() && id == self.last_id + 1;
        stays_dense || (id - self.first_id < RUN_SPAN && id - self.last_id <= RUN_GAP + 1)
    }
}

/// The runs of one transaction: each session's current one, and those that ended.
#[derive(Debug, Default)]
pub(super) struct Runs {
    /// `(session rowid, run)`.
    ended: Vec<(i64, Run)>,
}

impl Runs {
    /// Puts the session's row `seq` at rowid `id` into its current run, or starts a new one.
    pub fn add(&mut self, session: i64, current: &mut Option<Run>, seq: i64, id: i64) {
        match current {
            Some(run) if run.admits(id) => {
                run.last_seq = seq;
                run.last_id = id;
            }
            _ => {
                if let Some(ended) = current.replace(Run::start(seq, id)) {
                    self.ended.push((session, ended));
                }
            }
        }
    }

    /// Ends the session's current run (at the end of the transaction).
    pub fn end(&mut self, session: i64, current: &mut Option<Run>) {
        if let Some(run) = current.take() {
            self.ended.push((session, run));
        }
    }

    /// Inserts every ended run.
    pub fn insert(&self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let mut insert = tx.prepare_cached(INSERT_RUN)?;
        for (session, run) in &self.ended {
            insert.execute(params![
                session,
                run.last_seq,
                run.first_seq,
                run.first_id,
                run.last_id
            ])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs_of(ids: impl IntoIterator<Item = i64>) -> Vec<Run> {
        let (mut runs, mut current) = (Runs::default(), None);
        for (seq, id) in (1..).zip(ids) {
            runs.add(7, &mut current, seq, id);
        }
        runs.end(7, &mut current);
        runs.ended.into_iter().map(|(_, run)| run).collect()
    }

    #[test]
    fn a_session_streaming_alone_has_one_run() {
        assert_eq!(
            runs_of(1..=1_000),
            [Run::start(1, 1).extended(1_000, 1_000)]
        );
    }

    #[test]
    fn a_long_run_with_other_rows_ends_at_the_span() {
        let runs = runs_of((1..=300).map(|i| 2 * i));
        assert_eq!(runs.len(), 5, "64 rows in 128 rowids each");
        assert_eq!(runs[0], Run::start(1, 2).extended(64, 128));
        assert_eq!(runs[1], Run::start(65, 130).extended(128, 256));
    }

    #[test]
    fn a_dense_run_long_past_the_span_ends_at_another_row() {
        let ids = (1..=200).chain([202]);
        assert_eq!(
            runs_of(ids),
            [Run::start(1, 1).extended(200, 200), Run::start(201, 202)]
        );
    }

    #[test]
    fn interleaved_rows_share_a_run_and_a_long_gap_ends_it() {
        let runs = runs_of([10, 12, 14, 14 + RUN_GAP + 1, 14 + RUN_GAP + 3 + RUN_GAP]);
        assert_eq!(
            runs,
            [
                Run::start(1, 10).extended(4, 14 + RUN_GAP + 1),
                Run::start(5, 14 + RUN_GAP + 3 + RUN_GAP)
            ]
        );
    }

    impl Run {
        fn extended(mut self, last_seq: i64, last_id: i64) -> Run {
            self.last_seq = last_seq;
            self.last_id = last_id;
            self
        }
    }
}
