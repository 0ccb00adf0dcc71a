package testcluster

import (
	"fmt"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
)

// Job is the part of a Job's JSON the tests read.
type Job struct {
	Metadata struct {
		Name        string            `json:"name"`
		UID         string            `json:"uid"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Parallelism *int  `json:"parallelism"`
		Completions *int  `json:"completions"`
		Suspend     *bool `json:"suspend"`
	} `json:"spec"`
	Status struct {
		Active           int    `json:"active"`
		Succeeded        int    `json:"succeeded"`
		Failed           int    `json:"failed"`
		CompletedIndexes string `json:"completedIndexes"`
		StartTime        string `json:"startTime"`
		CompletionTime   string `json:"completionTime"`
		Conditions       []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

// Condition returns the status of a condition type, or "".
func (j *Job) Condition(typ string) (status, reason string) {
	for _, c := range j.Status.Conditions {
		if c.Type == typ {
			return c.Status, c.Reason
		}
	}
	return "", ""
}

// Finished reports Complete or Failed.
func (j *Job) Finished() (string, bool) {
	for _, typ := range []string{"Complete", "Failed"} {
		if s, _ := j.Condition(typ); s == "True" {
			return typ, true
		}
	}
	return "", false
}

// Pod is the part of a Pod's JSON the tests read.
type Pod struct {
	Metadata struct {
		Name              string            `json:"name"`
		UID               string            `json:"uid"`
		Labels            map[string]string `json:"labels"`
		DeletionTimestamp string            `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Phase      string `json:"phase"`
		Reason     string `json:"reason"`
		Message    string `json:"message"`
		StartTime  string `json:"startTime"`
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
		ContainerStatuses []struct {
			RestartCount int `json:"restartCount"`
			State        struct {
				Waiting *struct {
					Reason  string `json:"reason"`
					Message string `json:"message"`
				} `json:"waiting"`
				Running *struct {
					StartedAt string `json:"startedAt"`
				} `json:"running"`
				Terminated *struct {
					ExitCode   int    `json:"exitCode"`
					Reason     string `json:"reason"`
					StartedAt  string `json:"startedAt"`
					FinishedAt string `json:"finishedAt"`
				} `json:"terminated"`
			} `json:"state"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

// RestartCount sums the containers' restarts.
func (p *Pod) RestartCount() int {
	n := 0
	for _, cs := range p.Status.ContainerStatuses {
		n += cs.RestartCount
	}
	return n
}

// GetJob reads one Job.
func (c *Cluster) GetJob(name string) (*Job, error) {
	var j Job
	if err := c.GetJSON(&j, "job", name); err != nil {
		return nil, err
	}
	return &j, nil
}

// Pods lists the pods of a Job.
func (c *Cluster) Pods(job string) ([]Pod, error) {
	var list struct {
		Items []Pod `json:"items"`
	}
	if err := c.GetJSON(&list, "pods", "-l", "job-name="+job); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// WaitJob waits until the Job is finished and returns it.
func (c *Cluster) WaitJob(name string, timeout time.Duration) *Job {
	c.t.Helper()
	var job *Job
	wait.Within(c.t, timeout, fmt.Sprintf("job %s to finish", name), func() (bool, string) {
		j, err := c.GetJob(name)
		if err != nil {
			return false, err.Error()
		}
		job = j
		_, done := j.Finished()
		return done, fmt.Sprintf("active=%d succeeded=%d failed=%d conditions=%+v", j.Status.Active, j.Status.Succeeded, j.Status.Failed, j.Status.Conditions)
	})
	return job
}

// WaitForLeader waits until exactly one server leads and returns it.
func (c *Cluster) WaitForLeader() *Node {
	c.t.Helper()
	var leader *Node
	wait.Within(c.t, 30*time.Second, "a leader", func() (bool, string) {
		l, why := c.leader()
		leader = l
		return l != nil, why
	})
	return leader
}

// Leader returns the current leader or nil.
func (c *Cluster) Leader() *Node {
	l, _ := c.leader()
	return l
}

// Member is one entry of `members -o json`.
type Member struct {
	Name         string `json:"name"`
	Role         string `json:"role"`
	Status       string `json:"status"`
	RaftState    string `json:"raftState"`
	Leader       bool   `json:"leader"`
	AppliedIndex uint64 `json:"appliedIndex"`
	CommitIndex  uint64 `json:"commitIndex"`
}

// Members asks one server for the member list.
func (c *Cluster) Members(at *Node) ([]Member, error) {
	r := c.CLIAt(at.RPCAddr, "", "members", "-o", "json", "--timeout", "5s")
	if r.Err != nil {
		return nil, fmt.Errorf("members at %s: %v: %s", at.Name, r.Err, r.Stderr)
	}
	var list struct {
		Items []Member `json:"items"`
	}
	if err := jsonUnmarshal(r.Stdout, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

func (c *Cluster) leader() (*Node, string) {
	for _, s := range c.Servers {
		if !s.Running() {
			continue
		}
		ms, err := c.Members(s)
		if err != nil {
			return nil, err.Error()
		}
		for _, m := range ms {
			if m.Name == s.Name && m.Leader {
				return s, ""
			}
		}
	}
	return nil, "no running server says it leads"
}

// WaitNodeReady waits until `get node NAME` reports Ready True.
func (c *Cluster) WaitNodeReady(name string) {
	c.t.Helper()
	c.waitNode(name, "True")
}

// WaitNodeNotReady waits until the node is not Ready.
func (c *Cluster) WaitNodeNotReady(name string) {
	c.t.Helper()
	c.waitNode(name, "False")
}

func (c *Cluster) waitNode(name, want string) {
	c.t.Helper()
	wait.Within(c.t, 30*time.Second, "node "+name+" Ready="+want, func() (bool, string) {
		var n struct {
			Status struct {
				Conditions []struct {
					Type, Status, Message string
				} `json:"conditions"`
			} `json:"status"`
		}
		if err := c.GetJSON(&n, "node", name); err != nil {
			return false, err.Error()
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == "Ready" {
				return cond.Status == want, cond.Status + " " + cond.Message
			}
		}
		return false, "no Ready condition"
	})
}
