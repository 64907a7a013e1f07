package main

import "github.com/spf13/cobra"

// newFailoverCmd is a placeholder until the command lands.
func newFailoverCmd() *cobra.Command {
	return &cobra.Command{Use: "failover", Short: "(not yet)", Hidden: true}
}
