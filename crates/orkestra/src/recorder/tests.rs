//! The bound on charges waiting for the database.

use orkestra_models::{ModelId, Nanodollars, UnixMillis};

use super::*;

fn charge(n: u64) -> Charge {
    Charge {
        at: UnixMillis::now(),
        principal: "default".to_owned(),
        model: ModelId::new("a/m").unwrap(),
        input_tokens: n,
        output_tokens: n,
        cost: Nanodollars(n),
        request_id: None,
        estimated: false,
    }
}

/// The writer's first flush is due in an hour: everything recorded here waits.
const LATER: Duration = Duration::from_hours(1);

#[tokio::test]
async fn charges_beyond_the_bound_are_dropped_and_counted_while_the_database_is_away() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    // From here on time is paused: the writer's ticks come as the test advances it. The store
    // is opened before, since opening it waits on a database thread, not on a timer.
    tokio::time::pause();
    let interval = Duration::from_secs(1);
    let recorder = Recorder::start(store.clone(), Arc::new(PerfStats::default()), interval, 3);
    // The database goes away: every write fails from now on.
    store.close().await;
    for n in 0..5 {
        recorder.record(charge(n));
    }
    assert_eq!(
        recorder.status(),
        RecordingStatus {
            pending: 3,
            max_pending: 3,
            dropped: 2,
            dropped_since_write: 2,
        }
    );
    // The writer tries, fails and keeps its batch, which still counts against the bound.
    tokio::time::sleep(interval * 3).await;
    assert_eq!(recorder.status().pending, 3);
    recorder.record(charge(5));
    assert_eq!(recorder.status().dropped, 3);
}

#[tokio::test]
async fn a_write_empties_the_queue_and_ends_the_dropping() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let recorder = Recorder::start(store.clone(), Arc::new(PerfStats::default()), LATER, 2);
    for n in 0..3 {
        recorder.record(charge(n));
    }
    assert_eq!(recorder.status().dropped_since_write, 1);
    recorder.shutdown(&PerfStats::default()).await;
    let status = recorder.status();
    assert_eq!((status.pending, status.dropped_since_write), (0, 0));
    assert_eq!(status.dropped, 1, "the total since the start stays");
    let written = store
        .charges(
            None,
            orkestra_models::Day(0),
            orkestra_models::Day(u32::MAX),
        )
        .await
        .unwrap();
    assert_eq!(written.len(), 2);
}
