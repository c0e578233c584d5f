package conformance

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
)

// jsonDiff compares a JSON document with an expected YAML value, path by
// path: nil when they are equal, else one line a difference, "- path:
// want" and "+ path: got" (a member only expected has no + line, one only
// got no - line).
func jsonDiff(got []byte, want any) []string { return diffJSON(got, want, false) }

// jsonSubset is jsonDiff where got may hold members want does not name,
// in objects at any depth, those in arrays included (an array itself has
// the items want has, in its order, no more).
func jsonSubset(got []byte, want any) []string { return diffJSON(got, want, true) }

func diffJSON(got []byte, want any, subset bool) []string {
	var g any
	if err := json.Unmarshal(got, &g); err != nil {
		return []string{"    + not JSON (" + err.Error() + "): " + string(got), "    - " + string(mustJSON(want))}
	}
	var w any
	_ = json.Unmarshal(mustJSON(want), &w) // encoded by mustJSON: valid
	var out []string
	diffValue(&out, "", w, g, subset)
	return out
}

func diffValue(out *[]string, path string, want, got any, subset bool) {
	wm, wok := want.(map[string]any)
	gm, gok := got.(map[string]any)
	if wok && gok {
		keys := map[string]bool{}
		for k := range wm {
			keys[k] = true
		}
		for k := range gm {
			keys[k] = true
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			wv, win := wm[k]
			gv, gin := gm[k]
			p := join(path, k)
			switch {
			case !gin:
				*out = append(*out, "    - "+p+": "+compact(wv)+"   (missing)")
			case !win && subset:
			case !win:
				*out = append(*out, "    + "+p+": "+compact(gv)+"   (not expected)")
			default:
				diffValue(out, p, wv, gv, subset)
			}
		}
		return
	}
	wa, wok := want.([]any)
	ga, gok := got.([]any)
	if wok && gok && len(wa) == len(ga) {
		for i := range wa {
			diffValue(out, path+"["+strconv.Itoa(i)+"]", wa[i], ga[i], subset)
		}
		return
	}
	if !reflect.DeepEqual(want, got) {
		p := path
		if p == "" {
			p = "(the whole value)"
		}
		*out = append(*out, "    - "+p+": "+compact(want), "    + "+p+": "+compact(got))
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(b)
}
