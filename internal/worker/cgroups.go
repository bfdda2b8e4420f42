package worker

// enforcesLimits reports whether the pool puts jobs in cgroups, and so can
// hold them to limits. Until the pool has cgroups, it never does.
func (p *Pool) enforcesLimits() bool { return false }
