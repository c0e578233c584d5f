package mapping

// The map validators as they were before objectWalk (commit 157e8ce), kept
// as the reference FuzzRunMap compares the current ones with: the same
// checks, walked with gjson's ForEach.

import (
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/mapping/canonical"
)

func (v *validators) refRunMap(field string, val gjson.Result) *canonical.Error {
	var err *canonical.Error
	pairs := 0
	val.ForEach(func(k, x gjson.Result) bool {
		pairs++
		key := k.Str
		switch {
		case v.maxPairs > 0 && pairs > v.maxPairs:
			err = canonical.FieldError(field, field+" may hold at most "+strconv.Itoa(v.maxPairs)+" pairs")
		case v.keyMaxLen > 0 && utf8.RuneCountInString(key) > v.keyMaxLen:
			err = canonical.FieldError(field+"."+key, field+" keys must be at most "+strconv.Itoa(v.keyMaxLen)+" characters long")
		case v.keyPattern != nil && !v.keyPattern.MatchString(key):
			err = canonical.FieldError(field+"."+key, field+" key "+strconv.Quote(key)+" must match "+v.keyPatternSrc)
		case v.valueType != typeAny && !refCheckType(v.valueType, x):
			err = canonical.FieldError(field+"."+key, field+" values must be "+plural(v.valueType))
		case v.valueMaxLen > 0 && refValueLen(x) > v.valueMaxLen:
			err = canonical.FieldError(field+"."+key, field+" values must be at most "+strconv.Itoa(v.valueMaxLen)+" characters long")
		}
		return err == nil
	})
	return err
}

func refValueLen(x gjson.Result) int {
	if x.Type == gjson.String {
		return utf8.RuneCountInString(x.Str)
	}
	return len(x.Raw)
}

func refCheckType(want jsonType, v gjson.Result) bool {
	got := typeOf(v)
	switch want {
	case typeAny:
		return true
	case typeInteger:
		if got != typeNumber {
			return false
		}
		_, err := strconv.ParseInt(v.Raw, 10, 64)
		return err == nil
	}
	return got == want
}
