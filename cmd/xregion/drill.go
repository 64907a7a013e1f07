package main

import "github.com/spf13/cobra"

// newDrillCmd is a placeholder until the command lands.
func newDrillCmd() *cobra.Command {
	return &cobra.Command{Use: "drill", Short: "(not yet)", Hidden: true}
}
