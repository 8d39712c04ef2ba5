package membership

import (
	"log/slog"
	"maps"
	"net"
	"testing"

	"github.com/hashicorp/memberlist"
)

// The member table keeps metadata encoded and hands out decoded copies: a
// caller that changes what it got changes nothing for the next caller, and
// a change of flags alone (the leave notice) is not an Updated event.
func TestMemberTableDecodesCopies(t *testing.T) {
	t.Parallel()
	q := newEventQueue()
	defer q.close()
	d := newEventDelegate(q, slog.New(slog.DiscardHandler), func(string, string) bool { return false })
	meta := map[string]string{"ring.id": "42", "ring.addr": "10.0.0.1:7000"}
	enc, err := encodeMeta(meta, 0)
	if err != nil {
		t.Fatal(err)
	}
	node := &memberlist.Node{Name: "a", Addr: net.IPv4(10, 0, 0, 1), Port: 7000, Meta: enc}
	d.NotifyJoin(node)
	if e := <-q.out; e.Kind != Joined || !maps.Equal(e.Member.Meta, meta) {
		t.Fatalf("join event %+v", e)
	}
	enc[0] = 0 // the table must own its copy of the encoding
	got, ok := d.lookup("a")
	if !ok || got.Addr != "10.0.0.1:7000" || got.State != StateAlive || !maps.Equal(got.Meta, meta) {
		t.Fatalf("lookup = %+v, %v", got, ok)
	}
	got.Meta["ring.id"] = "changed"
	if again := d.live(); len(again) != 1 || !maps.Equal(again[0].Meta, meta) {
		t.Fatalf("live after a caller changed its copy: %+v", again)
	}

	leaving, err := encodeMeta(meta, flagLeaving)
	if err != nil {
		t.Fatal(err)
	}
	d.NotifyUpdate(&memberlist.Node{Name: "a", Addr: node.Addr, Port: 7000, Meta: leaving})
	changed, err := encodeMeta(map[string]string{"ring.id": "43"}, flagLeaving)
	if err != nil {
		t.Fatal(err)
	}
	d.NotifyUpdate(&memberlist.Node{Name: "a", Addr: node.Addr, Port: 7000, Meta: changed})
	if e := <-q.out; e.Kind != Updated || e.Member.Meta["ring.id"] != "43" {
		t.Fatalf("first event after the updates is %+v, want the metadata change", e)
	}
	if _, ok := d.lookup("b"); ok {
		t.Fatal("lookup of an unknown member succeeded")
	}
}
