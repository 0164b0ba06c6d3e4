package renewal

// The crash tests name the points at which a run can die; the names are not
// part of the package's API.
type Step = step

const (
	StepKeySaved  = stepKeySaved
	StepSent      = stepSent
	StepIDSaved   = stepIDSaved
	StepFetched   = stepFetched
	StepCertSaved = stepCertSaved
	StepArchived  = stepArchived
	StepSwapped   = stepSwapped
	StepLinked    = stepLinked
)

// Steps lists the steps in order.
var Steps = []Step{StepKeySaved, StepSent, StepIDSaved, StepFetched, StepCertSaved, StepArchived, StepSwapped, StepLinked}
