// Package pgregions opens the two regions a benchmark program measures: two
// databases created for the run on one PostgreSQL server, region a's used
// directly and region b's reached through a regiontest.Proxy that adds the
// one-way delay in each direction, as a link between regions would. Close
// drops them again.
package pgregions
