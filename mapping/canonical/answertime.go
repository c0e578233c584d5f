package canonical

// The answer walk's timestamps: what it reads of RFC 3339 itself, so that a
// valid user's createdAt, updatedAt and lastLoginAt cost no time.Parse.

// rfc3339 reports whether v is a timestamp time.Parse(time.RFC3339Nano)
// certainly accepts: the form its fast path (parseRFC3339) reads. Other
// forms it might still accept are a doubt: false.
func rfc3339(v []byte) bool { return rfc3339Len(v) == len(v) }

// rfc3339Len is the length of the timestamp rfc3339 accepts that v starts
// with, or -1. (The answer walk reads it in place, ended by a quote.)
func rfc3339Len(v []byte) int {
	if len(v) < len("2006-01-02T15:04:05") ||
		v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' {
		return -1
	}
	century, year, month := twoDigits(v, 0), twoDigits(v, 2), twoDigits(v, 5)
	if century < 0 || year < 0 || month < 1 || month > 12 {
		return -1
	}
	if day := twoDigits(v, 8); day < 1 || day > daysIn(month, century*100+year) ||
		!upTo(twoDigits(v, 11), 23) || !upTo(twoDigits(v, 14), 59) || !upTo(twoDigits(v, 17), 59) {
		return -1
	}
	n := len("2006-01-02T15:04:05")
	if len(v)-n >= 2 && v[n] == '.' && v[n+1] >= '0' && v[n+1] <= '9' {
		for n += 2; n < len(v) && v[n] >= '0' && v[n] <= '9'; n++ {
		}
	}
	if n < len(v) && v[n] == 'Z' {
		return n + 1
	}
	if len(v)-n < len("-07:00") || v[n] != '+' && v[n] != '-' || v[n+3] != ':' ||
		!upTo(twoDigits(v, n+1), 23) || !upTo(twoDigits(v, n+4), 59) {
		return -1
	}
	return n + len("-07:00")
}

// twoDigits reads v[i:i+2] as a number, -1 when it is not two digits.
// (A byte below '0' wraps around to more than 9.) It is inlined, where a
// loop over the digits was not.
func twoDigits(v []byte, i int) int {
	a, b := v[i]-'0', v[i+1]-'0'
	if a > 9 || b > 9 {
		return -1
	}
	return int(a)*10 + int(b)
}

// upTo reports whether n, a twoDigits, is within [0, max].
func upTo(n, max int) bool { return 0 <= n && n <= max }

// daysIn is the number of days of month in year (proleptic Gregorian).
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
