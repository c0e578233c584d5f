package mapping

import (
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/userbridge/userbridge/mapping/canonical"
)

// runMapSeeds are objects with what the walk must read as gjson does:
// escapes in keys and values, surrogate pairs, characters of every width,
// whitespace, nested values, numbers and literals.
var runMapSeeds = []string{
	`{}`, ` { } `, `{"order_number":"25","item_type":"produce","department":"sales"}`,
	`{"a":"b","c":1,"d":true,"e":false,"f":null,"g":[1,"]",{"x":"}"}],"h":{"i":{}}}`,
	`{ "k\"ey" : "v\\a\/l\u00e9" , "\ud83d\ude00\ud83d\ude00" : "\ud83d\ude00x" }`,
	`{"éé€😀":"éé€😀éé€😀","n":-12.5e+3,"m":123456789012345,"z":0}`,
	"{\n\t\"a\" :\r\n \"\\\\\\\"\" ,\"b\":[ ] ,\"c\":{ }}",
	`{"\u0041\u00e9\u20ac":"\b\f\n\r\t","x":"\\\\","y":"\"\""}`,
	`{"a":{"b":"\"}\\"},"c":["\\",{"d":"]"}],"e":"end"}`,
}

// FuzzRunMap compares the map validators with the gjson walk they replaced
// (refRunMap), on every object of any body the guard accepts, walked and
// told from the guard's objectSum, under validators made from the fuzzed
// settings: the same verdict, code, field and message.
func FuzzRunMap(f *testing.F) {
	for i, s := range runMapSeeds {
		f.Add([]byte(s), uint8(i), uint8(i*3), uint8(i*5), uint8(i), false)
		f.Add([]byte(s), uint8(0), uint8(1+i), uint8(2+i), uint8(1), i%2 == 0)
	}
	key, _ := compilePattern(`[a-z_é]*`)
	types := []jsonType{typeAny, typeString, typeBool, typeNumber, typeInteger, typeObject, typeArray}
	f.Fuzz(func(t *testing.T, body []byte, pairs, keyMax, valMax, typ uint8, pat bool) {
		if !utf8.Valid(body) || (Guard{}).Check(body) != nil {
			return
		}
		v := validators{maxPairs: int(pairs % 8), keyMaxLen: int(keyMax % 12), valueMaxLen: int(valMax % 24),
			valueType: types[int(typ)%len(types)]}
		if pat {
			v.keyPattern, v.keyPatternSrc = key, `[a-z_é]*`
		}
		compareRunMap(t, &v, body)
	})
}

// compareRunMap compares the map validators with refRunMap on every object
// of body, a body the guard accepts: walked (runMap), and as Translate runs
// them on a top-level member's object, with what the guard learnt of it.
func compareRunMap(t *testing.T, v *validators, body []byte) {
	t.Helper()
	eachObject(gjson.ParseBytes(body), func(obj gjson.Result) {
		if got, want := v.runMap("tags", obj), v.refRunMap("tags", obj); !sameError(got, want) {
			t.Fatalf("%s with %+v: got %+v, want %+v", obj.Raw, *v, got, want)
		}
	})
	members, gerr := Guard{}.checkTop(body, nil)
	if gerr != nil {
		t.Fatalf("%s: %v", body, gerr)
	}
	for i := range members {
		m := &members[i]
		if body[m.valAt] != '{' {
			continue
		}
		obj := valueAt(body, m.valAt, m.valEnd)
		if got, want := v.run("tags", obj, &m.sum), v.refRunMap("tags", obj); !sameError(got, want) {
			t.Fatalf("%s with %+v and %+v: got %+v, want %+v", obj.Raw, *v, m.sum, got, want)
		}
	}
}

// TestRunMapSeeds runs the seeds through FuzzRunMap's comparison under a
// range of settings, so that go test checks them without -fuzz.
func TestRunMapSeeds(t *testing.T) {
	key, _ := compilePattern(`[a-z_é]*`)
	for _, s := range runMapSeeds {
		if err := (Guard{}).Check([]byte(s)); err != nil {
			t.Fatalf("seed %s: %v", s, err)
		}
		for n := 0; n < 6*12*7*7*2; n++ {
			v := validators{maxPairs: n % 6, keyMaxLen: n / 6 % 12, valueMaxLen: n / 72 % 7 * 3,
				valueType: jsonType(n / 504 % 7)}
			if n/3528 == 1 {
				v.keyPattern, v.keyPatternSrc = key, `[a-z_é]*`
			}
			compareRunMap(t, &v, []byte(s))
			compareRunMap(t, &v, []byte(`{"tags":`+s+`,"n":{"x":`+s+`}}`))
		}
	}
}

// TestDecodedRunes checks the count against gjson's decoding.
func TestDecodedRunes(t *testing.T) {
	for _, s := range []string{``, `abc`, `é€😀`, `\u00e9\ud83d\ude00`, `\ud83d\ude00\ud83d`, `\"\\\/\b\f\n\r\t`,
		`a\u0041b`, `\uD83D\uDE00`, `\ud83d\u0041`, "x\xffy"} {
		want := utf8.RuneCountInString(gjson.Parse(`"` + s + `"`).Str)
		if got := decodedRunes(s); got != want {
			t.Errorf("decodedRunes(%q) = %d, want %d", s, got, want)
		}
	}
}

// eachObject calls visit with v and every object inside it.
func eachObject(v gjson.Result, visit func(gjson.Result)) {
	if v.IsObject() {
		visit(v)
	}
	if v.IsObject() || v.IsArray() {
		v.ForEach(func(_, x gjson.Result) bool {
			eachObject(x, visit)
			return true
		})
	}
}

func sameError(a, b *canonical.Error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// The guard's summary must spare the usual object its walk: Finix's tags.
func TestFitsTypicalTags(t *testing.T) {
	body := []byte(`{"enabled":false,"tags":{"order_number":"25","item_type":"produce","department":"sales"}}`)
	members, gerr := Guard{}.checkTop(body, nil)
	if gerr != nil || len(members) != 2 {
		t.Fatalf("%v, %d members", gerr, len(members))
	}
	v := validators{maxPairs: 50, keyMaxLen: 40, valueMaxLen: 500, valueType: typeString}
	if sum := members[1].sum; !v.fits(&sum) || sum.pairs != 3 || sum.keyLen != 12 || sum.valLen != 7 {
		t.Errorf("%+v: fits %v", sum, v.fits(&sum))
	}
}
