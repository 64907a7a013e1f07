package ops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/config"
)

// Listing is one region's proposals, or why they could not be read.
type Listing struct {
	Region    xregion.Region
	Proposals []Proposal
	Err       error // nil also when the region never held a proposal
}

// ListProposals reads the proposals of every region at once; a region that
// does not answer within timeout is listed with its error.
func ListProposals(ctx context.Context, regions []config.Region, timeout time.Duration) []Listing {
	out := make([]Listing, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Go(func() {
			out[i].Region = r.Name
			s, err := OpenProposals(ctx, r, false, timeout)
			if errors.Is(err, ErrNoProposals) {
				return
			}
			if err != nil {
				out[i].Err = err
				return
			}
			defer s.Close()
			out[i].Proposals, out[i].Err = s.List(ctx)
		})
	}
	wg.Wait()
	return out
}

// FindProposal looks for proposal id in every region at once and returns
// the proposals of the region that holds it, open, and the proposal.
// Regions that do not answer within timeout are passed over; the error
// names them when no region that answered holds the proposal.
func FindProposal(ctx context.Context, regions []config.Region, id string, timeout time.Duration) (*Proposals, Proposal, error) {
	type found struct {
		s *Proposals
		p Proposal
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan found, len(regions))
	errs := make([]error, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Go(func() {
			s, err := OpenProposals(ctx, r, false, timeout)
			if err != nil {
				errs[i] = err
				return
			}
			p, _, err := s.Get(ctx, id)
			if err != nil {
				s.Close()
				errs[i] = err
				return
			}
			results <- found{s, p}
			cancel() // the others need not go on
		})
	}
	wg.Wait()
	close(results)
	var hits []found
	for f := range results {
		hits = append(hits, f)
	}
	switch len(hits) {
	case 1:
		return hits[0].s, hits[0].p, nil
	case 0:
		var dark []string
		for i, err := range errs {
			if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNoProposals) && !errors.Is(err, context.Canceled) {
				dark = append(dark, fmt.Sprintf("%s: %v", regions[i].Name, err))
			}
		}
		msg := id + " in any region that answered"
		if len(dark) > 0 {
			msg += " (not searched: " + strings.Join(dark, "; ") + ")"
		}
		return nil, Proposal{}, fmt.Errorf("%w %s; list them with xregion failover list", ErrNotFound, msg)
	}
	for _, h := range hits[1:] {
		h.s.Close()
	}
	var where []string
	for _, h := range hits {
		where = append(where, string(h.s.Region()))
	}
	hits[0].s.Close()
	return nil, Proposal{}, fmt.Errorf("proposal %s is in several regions (%s); name the one to use with --to", id, strings.Join(where, ", "))
}
