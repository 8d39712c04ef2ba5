package ring

import (
	"fmt"

	"github.com/concord-kv/concord/ring/ringpb"
)

// Server identifies a ring node: its unique name, its id on the circle and
// the address its ring RPCs are served on.
type Server struct {
	Name    string
	Id      uint64 // spelled as in the Go Chord library this API is compatible with
	Address string
}

// String formats the server as "name(id)@address".
func (s Server) String() string {
	return fmt.Sprintf("%s(%d)@%s", s.Name, s.Id, s.Address)
}

// same reports whether a and b are the same process incarnation as far as
// the ring can tell: same name, id and address.
func (s Server) same(o Server) bool {
	return s.Name == o.Name && s.Id == o.Id && s.Address == o.Address
}

func toPB(s Server) *ringpb.Server {
	return &ringpb.Server{Name: s.Name, Id: s.Id, Address: s.Address}
}

func fromPB(p *ringpb.Server) (Server, bool) {
	if p == nil {
		return Server{}, false
	}
	return Server{Name: p.GetName(), Id: p.GetId(), Address: p.GetAddress()}, true
}

func toPBList(list []Server) []*ringpb.Server {
	out := make([]*ringpb.Server, len(list))
	for i, s := range list {
		out[i] = toPB(s)
	}
	return out
}

func fromPBList(list []*ringpb.Server) []Server {
	out := make([]Server, 0, len(list))
	for _, p := range list {
		if s, ok := fromPB(p); ok {
			out = append(out, s)
		}
	}
	return out
}
