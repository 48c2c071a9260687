using MirrorKv.Client;
using MirrorKv.Protocol;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// <c>mirrorkv switchover</c> against a real pair in pair mode while a writer runs: the secondary takes over
/// under epoch 2, the old primary rejoins it, no write fails and every acknowledged write is on the new
/// primary; and the refusals an operator meets (the secondary named, an unprotected pair).
/// </summary>
[Collection(nameof(ProcessTests))]
public sealed class SwitchoverProcessTests
{
    [Fact]
    public async Task Switchover_UnderWrites_HandsThePairOver_NoWriteFails_NothingIsLost_AndThePairIsProtectedAgain()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await primary.WaitProtectedAsync();
        await using MirrorKvClient client = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint, secondary.EndPoint] });
        Assert.True(await client.WaitForSecondaryAsync());
        var writes = CheckedWriter.Start(client, "s-");
        await Waits.UntilAsync(() => writes.Acknowledged > 50, "the writer to get going");

        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromMinutes(1), "switchover", primary.EndPoint.ToString());
        Assert.True(exitCode == 0, output);
        Assert.Contains("serves as primary at epoch 2", output, StringComparison.Ordinal);
        Assert.Contains("the pair is protected again", output, StringComparison.Ordinal);

        long after = writes.Acknowledged;
        await Waits.UntilAsync(() => writes.Acknowledged > after + 50, "writes to go on at the new primary");
        await writes.StopAsync();
        Assert.True(writes.Errors.IsEmpty, $"writes failed during the switchover: {string.Join("; ", writes.Errors.Take(5))}");

        NodeStatus now = await MirrorKvAdmin.GetStatusAsync(secondary.EndPoint);
        Assert.Equal((NodeRole.Primary, 2UL, true), (now.Role, now.Epoch, now.Protected));
        NodeStatus old = await MirrorKvAdmin.GetStatusAsync(primary.EndPoint);
        Assert.Equal(NodeRole.Secondary, old.Role);
        await writes.AssertAllReadableAsync(client);
        Assert.Contains("switchover: the secondary holds every write", primary.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Switchover_RefusedWithAReason_WhenNamedTheSecondary_OrWhenThePairIsNotProtected()
    {
        await using NodeProcess primary = await NodeProcess.StartPrimaryAsync();
        (int exitCode, string output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "switchover", primary.EndPoint.ToString());
        Assert.Equal(1, exitCode);
        Assert.Contains("the pair is not protected", output, StringComparison.Ordinal);

        await using NodeProcess secondary = await NodeProcess.StartSecondaryAsync(primary.EndPoint);
        await primary.WaitProtectedAsync();
        (exitCode, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "switchover", secondary.EndPoint.ToString());
        Assert.Equal(1, exitCode);
        Assert.Contains("not the primary", output, StringComparison.Ordinal);
        Assert.Contains($"its primary is {primary.EndPoint}", output, StringComparison.Ordinal);

        (exitCode, output) = await DemoTests.RunCliAsync(TimeSpan.FromSeconds(30), "switchover", "nonsense");
        Assert.Equal(2, exitCode);

        // Nothing changed: the same primary, still protected.
        NodeStatus status = await MirrorKvAdmin.GetStatusAsync(primary.EndPoint);
        Assert.Equal((NodeRole.Primary, 1UL, true), (status.Role, status.Epoch, status.Protected));
    }
}
