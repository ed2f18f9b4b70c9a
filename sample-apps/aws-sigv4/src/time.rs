//! The signing time in SigV4's basic ISO 8601 form, `YYYYMMDDTHHMMSSZ`.

use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC time written as SigV4 wants it, such as `20150830T123600Z`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmzDate(String);

impl AmzDate {
    /// Returns the current time from the system clock, or the Unix epoch
    /// when the clock is set before it.
    pub fn now() -> Self {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        Self::from_unix_seconds(seconds)
    }

    /// Returns the time `seconds` after 1970-01-01T00:00:00Z, ignoring leap
    /// seconds as Unix time does.
    pub fn from_unix_seconds(seconds: u64) -> Self {
        let days = seconds / 86_400;
        let of_day = seconds % 86_400;
        let (year, month, day) = civil_from_days(days);
        Self(format!(
            "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
            of_day / 3600,
            of_day % 3600 / 60,
            of_day % 60
        ))
    }

    /// Returns the whole text, `YYYYMMDDTHHMMSSZ`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the date part, `YYYYMMDD`, which the credential scope uses.
    pub fn date(&self) -> &str {
        &self.0[..8]
    }
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month,
/// day), counting in 400-year eras of 146 097 days that start on March 1 so
/// that the leap day falls at the end of each year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Days from 0000-03-01 to 1970-01-01.
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March: 0 is March, 11 is February.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_format() {
        let cases = [
            (0, "19700101T000000Z"),
            (951_782_400, "20000229T000000Z"),
            (1_369_353_600, "20130524T000000Z"),
            (1_440_938_160, "20150830T123600Z"),
            (1_709_251_199, "20240229T235959Z"),
            (1_709_251_200, "20240301T000000Z"),
            (4_102_444_800, "21000101T000000Z"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(AmzDate::from_unix_seconds(seconds).as_str(), expected, "{seconds} s");
        }
    }

    #[test]
    fn date_is_first_eight_characters() {
        assert_eq!(AmzDate::from_unix_seconds(1_440_938_160).date(), "20150830");
    }
}
