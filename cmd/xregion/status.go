package main

import "github.com/spf13/cobra"

// newStatusCmd is a placeholder until the command lands.
func newStatusCmd() *cobra.Command {
	return &cobra.Command{Use: "status", Short: "(not yet)", Hidden: true}
}
