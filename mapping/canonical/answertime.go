package canonical

// The answer walk's timestamps: what it reads of RFC 3339 itself, so that a
// valid user's createdAt, updatedAt and lastLoginAt cost no time.Parse.

// rfc3339 reports whether v is a timestamp time.Parse(time.RFC3339Nano)
// certainly accepts: the form its fast path (parseRFC3339) reads. Other
// forms it might still accept are a doubt: false.
func rfc3339(v []byte) bool {
	if len(v) < len("2006-01-02T15:04:05") ||
		v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' {
		return false
	}
	year, ok1 := decimal(v[0:4], 0, 9999)
	month, ok2 := decimal(v[5:7], 1, 12)
	if !ok1 || !ok2 {
		return false
	}
	_, ok3 := decimal(v[8:10], 1, daysIn(month, year))
	_, ok4 := decimal(v[11:13], 0, 23)
	_, ok5 := decimal(v[14:16], 0, 59)
	_, ok6 := decimal(v[17:19], 0, 59)
	if !ok3 || !ok4 || !ok5 || !ok6 {
		return false
	}
	v = v[19:]
	if len(v) >= 2 && v[0] == '.' && v[1] >= '0' && v[1] <= '9' {
		n := 2
		for n < len(v) && v[n] >= '0' && v[n] <= '9' {
			n++
		}
		v = v[n:]
	}
	if len(v) == 1 && v[0] == 'Z' {
		return true
	}
	if len(v) != len("-07:00") || v[0] != '+' && v[0] != '-' || v[3] != ':' {
		return false
	}
	_, ok1 = decimal(v[1:3], 0, 23)
	_, ok2 = decimal(v[4:6], 0, 59)
	return ok1 && ok2
}

// decimal reads the digits d as a number within [min, max].
func decimal(d []byte, min, max int) (int, bool) {
	x := 0
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		x = x*10 + int(c-'0')
	}
	return x, min <= x && x <= max
}

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
