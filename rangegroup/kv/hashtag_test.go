package kv

import "testing"

func TestHashTag(t *testing.T) {
	t.Parallel()
	cases := []struct{ key, tag string }{
		{"plain", "plain"},
		{"{user:1}:name", "user:1"},
		{"prefix{user:1}suffix", "user:1"},
		{"{a}{b}", "a"},
		{"{}", "{}"},
		{"{}{a}", "{}{a}"}, // the first '{' decides, and its tag is empty
		{"{unclosed", "{unclosed"},
		{"closed}{", "closed}{"},
		{"}{x}", "x"},
		{"{{x}}", "{x"},
		{"", ""},
	}
	for _, c := range cases {
		if got := string(HashTag([]byte(c.key))); got != c.tag {
			t.Errorf("HashTag(%q) = %q, want %q", c.key, got, c.tag)
		}
	}
}

func TestHashTagSharesPosition(t *testing.T) {
	t.Parallel()
	m := newMachine()
	a, b := m.Position([]byte("{cart:7}:items")), m.Position([]byte("{cart:7}:total"))
	if a != b {
		t.Fatalf("tagged keys at %d and %d", a, b)
	}
	if m.Position([]byte("cart:7:items")) == m.Position([]byte("cart:7:total")) {
		t.Fatalf("untagged keys collide; pick other test keys")
	}
}
