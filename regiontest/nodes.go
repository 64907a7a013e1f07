package regiontest

import (
	"context"
	"fmt"
	"testing"

	"github.com/xregion/xregion/store/pgstore"
)

// Node is a Region with its xregion stores open: Local on Direct, what the
// region's own processes use, and Remote on Pool, what the other regions
// reach it by, through its Proxy. Both are pgstore.Stores of the region's
// database, in pgstore's default schema.
type Node struct {
	*Region
	Local, Remote *pgstore.Store
}

// Nodes is New with every region's stores open: the fixture of a test that
// replicates between regions.
func Nodes(t testing.TB, opts ...Option) []*Node {
	t.Helper()
	nodes, err := New(t, opts...).Nodes(context.Background())
	if err != nil {
		t.Fatalf("regiontest: %v", err)
	}
	return nodes
}

// Nodes opens the stores of every region of c, in order.
func (c *Cluster) Nodes(ctx context.Context) ([]*Node, error) {
	var out []*Node
	for _, r := range c.regions {
		local, err := pgstore.New(ctx, r.Direct, r.Name)
		if err != nil {
			return nil, fmt.Errorf("region %s: open store: %w", r.Name, err)
		}
		remote, err := pgstore.New(ctx, r.Pool, r.Name)
		if err != nil {
			return nil, fmt.Errorf("region %s: open store through the proxy: %w", r.Name, err)
		}
		out = append(out, &Node{Region: r, Local: local, Remote: remote})
	}
	return out, nil
}
