package ui

import (
	"fmt"
	"strconv"
	"strings"
)

var (
	monthNames = []string{"", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	dayNames   = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
)

// scheduleWords says a cron schedule in words ("at 02:30 every day",
// "every 5 minutes"), for the five-field form, the six-field form with
// seconds and the @ descriptors. What it cannot put simply it gives back
// field by field, so it never says something the schedule does not mean.
func scheduleWords(schedule string) string {
	s := strings.TrimSpace(schedule)
	switch s {
	case "@yearly", "@annually":
		return "at 00:00 on 1 January"
	case "@monthly":
		return "at 00:00 on day 1 of every month"
	case "@weekly":
		return "at 00:00 every Sunday"
	case "@daily", "@midnight":
		return "at 00:00 every day"
	case "@hourly":
		return "at minute 0 of every hour"
	}
	if d, ok := strings.CutPrefix(s, "@every "); ok {
		return "every " + strings.TrimSpace(d)
	}
	f := strings.Fields(s)
	second := "0"
	switch len(f) {
	case 5:
	case 6:
		second, f = f[0], f[1:]
	default:
		return s
	}
	minute, hour, dom, month, dow := f[0], f[1], f[2], f[3], f[4]
	var when string
	switch {
	case second == "*":
		when = "every second"
	case second != "0":
		when = "at second " + second + " of " + strings.TrimPrefix(minuteWords(minute, hour), "at ")
		if minute == "*" && hour == "*" {
			when = "at second " + second + " of every minute"
		}
	default:
		when = minuteWords(minute, hour)
	}
	days := dayWords(dom, month, dow)
	if days == "every day" && strings.Contains(when, "every") {
		return when // "every 5 minutes", not "every 5 minutes every day"
	}
	return when + " " + days
}

// minuteWords says the minute and hour fields.
func minuteWords(minute, hour string) string {
	m, mOK := number(minute, 0, 59)
	h, hOK := number(hour, 0, 23)
	switch {
	case mOK && hOK:
		return fmt.Sprintf("at %02d:%02d", h, m)
	case minute == "*" && hour == "*":
		return "every minute"
	case hour == "*":
		if n, ok := step(minute); ok {
			return plural(n, "minute")
		}
		if mOK {
			return fmt.Sprintf("at minute %d of every hour", m)
		}
		return "at minutes " + minute + " of every hour"
	case mOK:
		if n, ok := step(hour); ok {
			return fmt.Sprintf("at minute %d of every %s", m, strings.TrimPrefix(plural(n, "hour"), "every "))
		}
		if hours := strings.Split(hour, ","); len(hours) > 1 {
			var times []string
			for _, hh := range hours {
				n, ok := number(hh, 0, 23)
				if !ok {
					return fmt.Sprintf("at minute %d of hours %s", m, hour)
				}
				times = append(times, fmt.Sprintf("%02d:%02d", n, m))
			}
			return "at " + strings.Join(times[:len(times)-1], ", ") + " and " + times[len(times)-1]
		}
		return fmt.Sprintf("at minute %d of hours %s", m, hour)
	case minute == "*":
		return "every minute of hours " + hour
	}
	return "at minutes " + minute + " of hours " + hour
}

// dayWords says the day-of-month, month and day-of-week fields.
func dayWords(dom, month, dow string) string {
	var parts []string
	switch {
	case dom == "*" && (dow == "*" || dow == "?"):
		parts = append(parts, "every day")
	case dom == "*" || dom == "?":
		parts = append(parts, "on "+weekdays(dow))
	case dow == "*" || dow == "?":
		parts = append(parts, "on day "+dom+" of the month")
	default:
		// Cron runs on either (as Kubernetes and Vixie cron do).
		parts = append(parts, "on day "+dom+" of the month and on "+weekdays(dow))
	}
	if month != "*" {
		parts = append(parts, "in "+months(month))
	}
	return strings.Join(parts, ", ")
}

func weekdays(field string) string {
	return names(field, dayNames, 0, 7, "day of the week")
}

func months(field string) string {
	return names(field, monthNames, 1, 12, "month")
}

// names turns a list of numbers and ranges into names ("Monday through
// Friday"); anything else is given back as it is.
func names(field string, list []string, lo, hi int, what string) string {
	var out []string
	for part := range strings.SplitSeq(field, ",") {
		if a, b, ok := strings.Cut(part, "-"); ok {
			x, okA := nameOrNumber(a, list, lo, hi)
			y, okB := nameOrNumber(b, list, lo, hi)
			if !okA || !okB {
				return what + " " + field
			}
			out = append(out, list[x]+" through "+list[y])
			continue
		}
		x, ok := nameOrNumber(part, list, lo, hi)
		if !ok {
			return what + " " + field
		}
		out = append(out, list[x])
	}
	if len(out) == 1 {
		return out[0]
	}
	return strings.Join(out[:len(out)-1], ", ") + " and " + out[len(out)-1]
}

func nameOrNumber(s string, list []string, lo, hi int) (int, bool) {
	if n, ok := number(s, lo, hi); ok {
		return n, true
	}
	for i, name := range list {
		if name != "" && strings.EqualFold(s, name[:3]) {
			return i, true
		}
	}
	return 0, false
}

func number(s string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= lo && n <= hi
}

// step reads "*/n".
func step(s string) (int, bool) {
	if rest, ok := strings.CutPrefix(s, "*/"); ok {
		n, err := strconv.Atoi(rest)
		return n, err == nil && n > 0
	}
	return 0, false
}

func plural(n int, unit string) string {
	if n == 1 {
		return "every " + unit
	}
	return fmt.Sprintf("every %d %ss", n, unit)
}
