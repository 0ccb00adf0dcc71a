package ui

import "testing"

func TestScheduleWords(t *testing.T) {
	for _, tt := range []struct{ schedule, want string }{
		{"30 2 * * *", "at 02:30 every day"},
		{"*/5 * * * *", "every 5 minutes"},
		{"* * * * *", "every minute"},
		{"0 * * * *", "at minute 0 of every hour"},
		{"15 */2 * * *", "at minute 15 of every 2 hours"},
		{"0 9,17 * * 1-5", "at 09:00 and 17:00 on Monday through Friday"},
		{"0 0 1 * *", "at 00:00 on day 1 of the month"},
		{"0 3 * 1,7 SUN", "at 03:00 on Sunday, in January and July"},
		{"0 12 13 * 5", "at 12:00 on day 13 of the month and on Friday"},
		{"* * * * * *", "every second"},
		{"30 * * * * *", "at second 30 of every minute"},
		{"@hourly", "at minute 0 of every hour"},
		{"@every 90s", "every 90s"},
		{"5-10 * * * *", "at minutes 5-10 of every hour"},
		{"0 0 * * 8", "at 00:00 on day of the week 8"},
		{"not a schedule", "not a schedule"},
	} {
		if got := scheduleWords(tt.schedule); got != tt.want {
			t.Errorf("scheduleWords(%q) = %q, want %q", tt.schedule, got, tt.want)
		}
	}
}
