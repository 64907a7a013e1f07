// Package ops carries out what an operator does by hand when a region is
// lost and when it comes back: the manual failover (a proposal, the
// approvals of other people, then its steps in order) and the pieces of a
// failback that are not resync itself (a progress bar, the summaries). The
// xregion command parses flags and asks questions; this package does the
// work and prints what it did.
//
//	b, err := cfg.Region("b")
//	props, err := ops.OpenProposals(ctx, b, true, 5*time.Second)
//	p, err := ops.NewProposal("a", "b", "alice", "a lost power", false, time.Now())
//	err = props.Create(ctx, p)
//
//	// Later, from another machine, under the proposal's lease:
//	release, err := props.Lock(ctx, p.ID)
//	defer release()
//	p, base, err := props.Get(ctx, p.ID)
//	err = p.Approve("bob", time.Now(), cfg.Approvals)
//	base, err = props.Save(ctx, p, base)
//	if p.State == ops.StateApproved {
//		target, err := cfg.Open(ctx, b)
//		f := &ops.Failover{Config: cfg, Proposals: props, To: target, By: "bob", Out: os.Stdout}
//		err = f.Run(ctx, &p, base) // errors.Is(err, ops.ErrIncomplete): the output says what to do
//	}
//
// # Proposals
//
// A proposal lives in the target region's database, so that the people who
// approve it can run the command from other machines: one record per
// proposal, keyed by its id, in the table Table of a store of its own in
// schema Schema (store/pgstore with WithSchema), resolved last-write-wins
// and stamped by a clock of the region. The store is not the region's
// replicated one on purpose: a record in the replicated changelog would be
// shipped to every peer, and a peer whose services do not declare the table
// refuses the batch (xregion.ErrUnknownTable), which stalls that link, and
// a failback would refuse the gap (resync.ErrUncoveredTable). The price is
// that a proposal is read in the region it names as target, not anywhere.
//
// Every change to a proposal is made under a lease (xregion.Leaser) named
// after it, so two people approving at the same moment are serialised: one
// of them is told to run the command again. The proposer counts as the
// first approval; a person approves once (names compare as partition's
// Approval names do: ignoring case and surrounding space).
//
// # The steps
//
// Once a proposal has the approvals the config asks for, Failover.Run
// carries out, in this order, printing each as it completes with its
// duration and outcome:
//
//  1. fence: the old home still does not answer (its store nor its
//     health URL); otherwise the run stops, unless the proposal was forced;
//  2. resolve staged writes: the target applies the writes its peers
//     staged synchronously (xregion.Stager), the old home's last
//     acknowledged writes among them; with three regions or more, the
//     survivors then catch up (replicate.CatchUp), so that each holds
//     every write of the old home that any of them holds;
//  3. move homes: the target becomes the home of every partition whose
//     home was the old one (partition.Router.Failover with the approvals);
//  4. translate bridge groups: each consumer group of each bridge from the
//     old region to the target gets its offsets translated into the target
//     cluster (bridge.Bridge.FailoverGroup), which needs the source cluster
//     to answer; a group it cannot translate is NOT DONE, with what to do;
//  5. mark done.
//
// Each step's outcome is recorded in the proposal as it completes. Running
// the steps again (approve again) skips those recorded done, and re-runs
// the rest, which are idempotent: staged writes apply once, a partition
// already homed in the target is left alone, a translation commits the
// same offsets. The fence is checked again unless both steps it guards (2
// and 3) are recorded done, so a region that came back between two runs
// stops the second one.
//
// # Hazards
//
// HAZARD: the fence is a probe from where the command runs. A region that
// does not answer here may be alive behind a partition, still taking
// writes under its old epochs: the two-person rule exists so that someone
// checks out of band. See partition's Failover for what a split brain
// costs and how a failback undoes it.
//
// HAZARD: the lease is held by a database session of the command. A
// command killed hard holds it until PostgreSQL notices the dead
// connection (seconds, or the server's TCP keepalive).
package ops
