use super::*;

#[track_caller]
fn check(ymd: (i32, u32, u32), expected_day: u32) {
    let day = Day::from_ymd(ymd.0, ymd.1, ymd.2).unwrap();
    assert_eq!(day, Day(expected_day));
    assert_eq!(day.ymd(), ymd);
}

#[test]
fn civil_dates_convert_both_ways() {
    check((1970, 1, 1), 0);
    check((2000, 2, 29), 11_016);
    check((2026, 11, 21), 20_778);
    check((2028, 12, 31), 21_549);
}

#[test]
fn impossible_dates_are_refused() {
    assert_eq!(Day::from_ymd(2026, 2, 29), None);
    assert_eq!(Day::from_ymd(2026, 13, 1), None);
    assert_eq!(Day::from_ymd(1969, 12, 31), None);
}

#[test]
fn instants_fall_on_their_utc_day_and_month() {
    let noon = UnixMillis(1_795_262_400_000); // 2026-11-21T12:00:00Z
    assert_eq!(noon.day().to_string(), "2026-11-21");
    assert_eq!(noon.day().month().to_string(), "2026-11");
    assert_eq!(noon.day().month().first_day().to_string(), "2026-11-01");
    assert_eq!(UnixMillis::at_day(noon.day()).day(), noon.day());
}

proptest::proptest! {
    #[test]
    fn every_day_round_trips(day in 0_u32..200_000) {
        let (y, m, d) = Day(day).ymd();
        proptest::prop_assert_eq!(Day::from_ymd(y, m, d), Some(Day(day)));
    }
}
