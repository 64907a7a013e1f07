// Package pgregions opens the two regions a benchmark program measures with
// regiontest.Open: region a's database used directly and region b's reached
// through its regiontest.Proxy, which adds the one-way delay in each
// direction, as a link between regions would. It adds what regiontest does
// not do: the server's version for the report, and CHECKPOINT between
// phases. Close drops the databases again.
package pgregions
