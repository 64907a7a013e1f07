package crdt

// walkSorted visits the items of two lists sorted by compare in order: equal
// items together, each other item with nil for the list that lacks it. Every
// merge of this package that zips two sorted lists is built on it.
func walkSorted[T any](a, b []T, compare func(T, T) int, visit func(x, y *T)) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var c int
		switch {
		case j == len(b):
			c = -1
		case i == len(a):
			c = 1
		default:
			c = compare(a[i], b[j])
		}
		switch {
		case c < 0:
			visit(&a[i], nil)
			i++
		case c > 0:
			visit(nil, &b[j])
			j++
		default:
			visit(&a[i], &b[j])
			i, j = i+1, j+1
		}
	}
}

// mergeSorted merges two sorted lists, joining the items both hold, and
// shares an argument's slice when the other is empty.
func mergeSorted[T any](a, b []T, compare func(T, T) int, join func(T, T) T) []T {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]T, 0, max(len(a), len(b)))
	walkSorted(a, b, compare, func(x, y *T) {
		switch {
		case y == nil:
			out = append(out, *x)
		case x == nil:
			out = append(out, *y)
		default:
			out = append(out, join(*x, *y))
		}
	})
	return out
}
