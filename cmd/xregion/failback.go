package main

import "github.com/spf13/cobra"

// newFailbackCmd is a placeholder until the command lands.
func newFailbackCmd() *cobra.Command {
	return &cobra.Command{Use: "failback", Short: "(not yet)", Hidden: true}
}
