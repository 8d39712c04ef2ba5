package ringsim

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the report as aligned plain-text tables.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range r.tables() {
		fmt.Fprintf(tw, "\n%s\n", t.title)
		if len(t.rows) == 0 {
			fmt.Fprintln(tw, "  none")
			continue
		}
		fmt.Fprintln(tw, "  "+strings.Join(t.header, "\t"))
		for _, row := range t.rows {
			fmt.Fprintln(tw, "  "+strings.Join(row, "\t"))
		}
		// Flush per table so each gets its own column widths.
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(tw, "\nRESULT: %s\n", passString(r.Passed()))
	return tw.Flush()
}

// WriteMarkdown writes the report as markdown tables under headings.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Ring simulation: %d nodes, seed %d: %s\n", r.Config.Nodes, r.Config.Seed, passString(r.Passed()))
	for _, t := range r.tables() {
		fmt.Fprintf(&b, "\n## %s\n\n", t.title)
		if len(t.rows) == 0 {
			b.WriteString("None.\n")
			continue
		}
		b.WriteString("| " + strings.Join(t.header, " | ") + " |\n")
		b.WriteString("|" + strings.Repeat("---|", len(t.header)) + "\n")
		for _, row := range t.rows {
			cells := make([]string, len(row))
			for i, c := range row {
				cells[i] = strings.ReplaceAll(c, "|", `\|`)
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func passString(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}
