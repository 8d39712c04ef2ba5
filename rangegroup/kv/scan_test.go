package kv

import (
	"fmt"
	"testing"

	"github.com/concord-kv/concord/rangegroup/kv/kvpb"
)

// scanAll pages through the arc with the given page size, checking that no
// page is empty unless the arc is.
func scanAll(t *testing.T, f *fixture, page uint32, keysOnly bool) []*kvpb.Result {
	t.Helper()
	var all []*kvpb.Result
	var after *kvpb.Cursor
	for {
		resp := f.read(scanReq(after, page, keysOnly))
		wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
		if len(resp.GetResults()) == 0 && after != nil {
			t.Fatal("empty page after a cursor")
		}
		all = append(all, resp.GetResults()...)
		if resp.GetNext() == nil {
			return all
		}
		if len(resp.GetResults()) != int(page) {
			t.Fatalf("page of %d with a cursor, limit %d", len(resp.GetResults()), page)
		}
		after = resp.GetNext()
	}
}

func TestScanPagesInPositionOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var want []string
	for i := range 23 {
		// Two keys per position, so the order within a position matters.
		for _, suffix := range []string{"b", "a"} {
			k := fmt.Sprintf("#%d:%s", 1000-i*7, suffix)
			f.mustPut(k, "v"+k)
		}
	}
	for i := 22; i >= 0; i-- {
		want = append(want, fmt.Sprintf("#%d:a", 1000-i*7), fmt.Sprintf("#%d:b", 1000-i*7))
	}
	f.mustPut("#500:gone", "v", withTTL(1))
	f.now++
	for _, page := range []uint32{1, 3, 46, 0} {
		got := scanAll(t, f, page, false)
		if len(got) != len(want) {
			t.Fatalf("page %d: %d keys, want %d", page, len(got), len(want))
		}
		for i, r := range got {
			if string(r.GetKey()) != want[i] || string(r.GetValue().GetValue()) != "v"+want[i] {
				t.Fatalf("page %d: item %d is %q=%q, want %q", page, i, r.GetKey(), r.GetValue().GetValue(), want[i])
			}
		}
	}
	for _, r := range scanAll(t, f, 10, true) {
		if r.GetValue().GetValue() != nil || r.GetValue().GetVersion() != 1 {
			t.Fatalf("keys_only result %v", r)
		}
	}
}

func TestScanExactPageHasNoCursor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustPut("a", "1")
	f.mustPut("b", "2")
	resp := f.read(scanReq(nil, 2, false))
	if len(resp.GetResults()) != 2 || resp.GetNext() != nil {
		t.Fatalf("scan %v", resp)
	}
	resp = f.read(scanReq(nil, 1, false))
	next := resp.GetNext()
	if len(resp.GetResults()) != 1 || next == nil || string(next.GetKey()) != string(resp.GetResults()[0].GetKey()) ||
		next.GetPosition() != f.m.Position(next.GetKey()) {
		t.Fatalf("scan %v", resp)
	}
	empty := newFixture(t)
	if resp := empty.read(scanReq(nil, 0, false)); len(resp.GetResults()) != 0 || resp.GetNext() != nil {
		t.Fatalf("scan of an empty store %v", resp)
	}
}

// A cursor past the end of a span of a wrapped arc resumes in the next
// span; a cursor past everything yields an empty last page.
func TestScanCursorAcrossWrappedSpans(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.arc = wrapped
	for _, k := range inWrapped {
		f.mustPut(k, "v")
	}
	resp := f.read(scanReq(&kvpb.Cursor{Position: 50, Key: []byte("x")}, 0, true))
	if len(resp.GetResults()) != 2 || string(resp.GetResults()[0].GetKey()) != inWrapped[3] {
		t.Fatalf("scan after a cursor between the spans %v", resp.GetResults())
	}
	resp = f.read(scanReq(&kvpb.Cursor{Position: 1 << 63, Key: []byte("x")}, 0, true))
	if len(resp.GetResults()) != 1 || string(resp.GetResults()[0].GetKey()) != inWrapped[4] {
		t.Fatalf("scan near the top %v", resp.GetResults())
	}
}

// A prefix scan returns only matching keys, and one that examines more
// than scanExamineLimit non-matching records stops with a cursor at the
// last of them, from which the next read resumes.
func TestScanPrefixBoundsExaminedRecords(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range scanExamineLimit + 10 {
		f.mustPut(fmt.Sprintf("#100:other%05d", i), "x")
	}
	f.mustPut("#200:match", "v")
	req := scanReq(nil, 10, false)
	req.GetScan().Prefix = []byte("#200:")
	resp := f.read(req)
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	if len(resp.GetResults()) != 0 || resp.GetNext() == nil {
		t.Fatalf("first read: %d results, next %v; want none and a cursor", len(resp.GetResults()), resp.GetNext())
	}
	req.GetScan().After = resp.GetNext()
	resp = f.read(req)
	wantCode(t, resp.GetCode(), kvpb.ErrorCode_OK, resp.GetMessage())
	if len(resp.GetResults()) != 1 || string(resp.GetResults()[0].GetKey()) != "#200:match" || resp.GetNext() != nil {
		t.Fatalf("second read: %v, next %v; want only #200:match and no cursor", resp.GetResults(), resp.GetNext())
	}

	long := scanReq(nil, 10, false)
	long.GetScan().Prefix = make([]byte, DefaultLimits().MaxKeySize+1)
	wantCode(t, f.read(long).GetCode(), kvpb.ErrorCode_INVALID_KEY, "over-long prefix")
}
