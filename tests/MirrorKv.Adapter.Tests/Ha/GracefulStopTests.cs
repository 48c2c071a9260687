using MirrorKv.Adapter;
using MirrorKv.Protocol;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// A planned stop (SIGTERM: the node disposed) is no failure of the stopping node: it must not log that it fenced,
/// that its peer may have promoted, or that it must rejoin, which an operator would read as an incident.
/// </summary>
public sealed class GracefulStopTests
{
    [Fact]
    public async Task StoppingThePrimary_LogsNoFenceNorRejoin_AndTheSecondaryTakesOver()
    {
        await using MemberPair pair = await MemberPair.StartAsync();
        await pair.A.DisposeAsync();
        await Waits.UntilAsync(() => pair.B.Node is { Role: NodeRole.Primary, Epoch: 2 }, "the secondary to take over from the stopped primary");
        await Task.Delay(300);
        string[] stopped = [.. pair.Lines.Where(l => l.Contains(" A ", StringComparison.Ordinal)).SkipWhile(l => !l.Contains("-> Stopped", StringComparison.Ordinal))];
        Assert.NotEmpty(stopped);
        Assert.DoesNotContain(stopped, l => l.Contains("fenced", StringComparison.Ordinal) || l.Contains("rejoin", StringComparison.Ordinal) || l.Contains("may have promoted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StoppingTheSecondary_LogsNoLostPrimary_AndThePrimaryGoesOnAlone()
    {
        await using MemberPair pair = await MemberPair.StartAsync();
        await pair.B.DisposeAsync();
        await Waits.UntilAsync(() => pair.A.Node is { Role: NodeRole.Primary, IsProtected: false }, "the primary to go on alone");
        await Task.Delay(300);
        string[] stopped = [.. pair.Lines.Where(l => l.Contains(" B ", StringComparison.Ordinal)).SkipWhile(l => !l.Contains("-> Stopped", StringComparison.Ordinal))];
        Assert.NotEmpty(stopped);
        Assert.DoesNotContain(stopped, l => l.Contains("lost the primary", StringComparison.Ordinal));
    }
}
