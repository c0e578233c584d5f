package mapping

import "testing"

// reset must leave no field's value or source behind: they point into
// the body of the translation that set them.
func TestResetClearsSlots(t *testing.T) {
	b := builderPool.New().(*builder)
	b.p, b.body = &Program{}, []byte(`{}`)
	for _, f := range []int{0, 3, 14} {
		if err := b.setSlot(slot{field: f}, []byte(`"x"`), "src"); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.unsetSlot(slot{field: 7}, "gone"); err != nil {
		t.Fatal(err)
	}
	b.reset()
	for i := range b.set {
		if b.set[i] != nil || b.from[i] != "" {
			t.Errorf("field %d kept %q from %q", i, b.set[i], b.from[i])
		}
	}
	if b.unset != 0 || b.used != 0 {
		t.Errorf("unset %b, used %b", b.unset, b.used)
	}
}
