package beamrun

import "testing"

func TestSameJob(t *testing.T) {
	for _, c := range []struct {
		got, name string
		want      bool
	}{
		{"finbeam-hourlygmv-1796645208552433874", "finbeam-hourlygmv-1796645208552433874", true},
		{"finbeam0hourlygmv01796645208552433874-root-1207120648-59149b8", "finbeam-hourlygmv-1796645208552433874", true},
		{"finbeam0hourlygmv01796645208552433875-root-1207120648-59149b8", "finbeam-hourlygmv-1796645208552433874", false},
		{"finbeam0hourlygmv017966452085524338745-root-1207120648-59149b8", "finbeam-hourlygmv-1796645208552433874", false},
		{"finbeam-lastpage-1", "finbeam-hourlygmv-1", false},
	} {
		if got := SameJob(c.got, c.name); got != c.want {
			t.Errorf("SameJob(%q, %q) = %v, want %v", c.got, c.name, got, c.want)
		}
	}
}
