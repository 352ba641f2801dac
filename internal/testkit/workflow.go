package testkit

import (
	"context"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// WaitWorkflowClosed waits until the workflow's current run has closed and returns how it
// closed. A workflow's last step (writing status) is visible in Kubernetes a moment before
// its run completes in Temporal, so a test that reads the status first must wait here
// rather than describe the run once.
func WaitWorkflowClosed(t testing.TB, tc client.Client, workflowID string, timeout time.Duration) enums.WorkflowExecutionStatus {
	t.Helper()
	var status enums.WorkflowExecutionStatus
	Eventually(t, timeout, "workflow "+workflowID+" closed", func() (bool, string) {
		d, err := tc.DescribeWorkflowExecution(context.Background(), workflowID, "")
		if err != nil {
			return false, err.Error()
		}
		status = d.GetWorkflowExecutionInfo().GetStatus()
		return status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING, status.String()
	})
	return status
}
