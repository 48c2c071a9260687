using MirrorKv.Linearizability;

namespace MirrorKv.Linearizability.Tests;

/// <summary>The recorder's real-time order and outcomes.</summary>
public class HistoryRecorderTests
{
    [Fact]
    public void Snapshot_OperationCompletedBeforeAnotherIsInvoked_HasTheEarlierCompletion()
    {
        var history = new HistoryRecorder();
        long w = history.InvokeWrite("k", 1);
        history.Complete(w, Outcome.Ok);
        long r = history.InvokeRead("k");
        history.Complete(r, Outcome.Ok, 1);
        Operation[] ops = history.Snapshot();
        Assert.True(ops[0].Completed < ops[1].Invoked);
        Assert.Equal(1, ops[1].Value);
    }

    [Fact]
    public void Snapshot_OperationStillRunning_IsUnknown()
    {
        var history = new HistoryRecorder();
        history.InvokeWrite("k", 1);
        Operation op = Assert.Single(history.Snapshot());
        Assert.Equal((Outcome.Unknown, long.MaxValue), (op.Outcome, op.Completed));
    }

    [Fact]
    public async Task Recorder_FromManyThreads_GivesALinearizableHistoryOfALockedRegister()
    {
        var history = new HistoryRecorder();
        var gate = new Lock();
        long? register = null;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(p => Task.Run(() =>
        {
            for (int i = 0; i < 300; i++)
            {
                if (i % 3 == 0)
                {
                    long id = history.InvokeWrite("k", (p * 1_000) + i);
                    lock (gate)
                    {
                        register = (p * 1_000) + i;
                    }

                    history.Complete(id, Outcome.Ok);
                }
                else
                {
                    long id = history.InvokeRead("k");
                    long? seen;
                    lock (gate)
                    {
                        seen = register;
                    }

                    history.Complete(id, Outcome.Ok, seen);
                }
            }
        })));

        CheckReport report = LinearizabilityChecker.Check(history.Snapshot());
        Assert.True(report.IsLinearizable, report.ToText());
        Assert.Equal(1_200, report.Operations);
    }
}
