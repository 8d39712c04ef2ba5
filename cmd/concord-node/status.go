package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/concord-kv/concord/api/adminpb"
)

// runStatus asks a running node for the cluster's status and prints its
// members and every range.
func runStatus(args []string, out, errOut io.Writer) error {
	return runAdminQuery("status", args, out, errOut, func(ctx context.Context, c adminpb.AdminClient) (*adminpb.StatusResponse, error) {
		return c.Status(ctx, &adminpb.StatusRequest{Cluster: true})
	}, printStatus)
}

func printStatus(out io.Writer, st *adminpb.StatusResponse) error {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "MEMBERS (as seen by %s)\n", st.Node)
	fmt.Fprintln(tw, "NAME\tADDRESS\tRING ID\tSTATE")
	for _, m := range st.Members {
		fmt.Fprintf(tw, "%s\t%s\t%016x\t%s\n", m.Name, m.Address, m.RingId, m.State)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "RANGES")
	fmt.Fprintln(tw, "RANGE\tSPAN (start, end]\tREPLICAS\tLEADER\tAPPLIED\tKEYS\tBYTES")
	for _, r := range st.Ranges {
		keys := fmt.Sprint(r.Keys)
		if !r.KeysExact {
			keys = ">=" + keys
		}
		leader := r.Leader
		if leader == "" {
			leader = "-"
		}
		fmt.Fprintf(tw, "%d\t(%016x, %016x]\t%s\t%s\t%d\t%s\t%d\n", r.RangeId, r.Start, r.End, replicaList(r.Replicas), leader, r.AppliedIndex, keys, r.Bytes)
	}
	if len(st.Unreachable) > 0 {
		fmt.Fprintf(tw, "\nunreachable members: %s\n", strings.Join(st.Unreachable, ", "))
	}
	return tw.Flush()
}

// replicaList names a range's replicas, marking those that are not voters
// ("n4(learner)").
func replicaList(reps []*adminpb.Replica) string {
	names := make([]string, 0, len(reps))
	for _, rep := range reps {
		s := rep.Node
		if rep.Type != "voter" {
			s += "(" + rep.Type + ")"
		}
		names = append(names, s)
	}
	return strings.Join(names, ",")
}
