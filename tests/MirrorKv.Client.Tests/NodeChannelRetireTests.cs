using System.Net;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Memory;
using MirrorKv.Protocol;

namespace MirrorKv.Client.Tests;

/// <summary>
/// A channel the route leaves while its node lives (the secondary just promoted, reached again through a new
/// primary channel) is retired, not closed: the READs it has in flight get their answers, then it closes. Closed at
/// once, they fail and are sent again, which a failover's reads pay for.
/// </summary>
public class NodeChannelRetireTests
{
    private static readonly IPAddress ClientAddress = IPAddress.Parse("127.0.0.31");

    [Fact]
    public Task Retire_TakesNoNewWork_LetsTheReadInFlightFinish_ThenCloses() => WithAReadInFlightAsync(async (pair, channel, op) =>
    {
        Task retired = channel.RetireAsync();
        Assert.False(channel.IsHealthy);
        await Task.Delay(50);
        Assert.True(op.IsInFlight);
        Assert.False(retired.IsCompleted);

        pair.Network.Thaw(PairFixture.PrimaryAddress);
        await op.AsValueTask();
        Assert.False(op.Faulted);
        Assert.Equal(WireStatus.Ok, op.Status);
        await retired.WaitAsync(TimeSpan.FromSeconds(5));
    });

    [Fact]
    public Task Dispose_FailsTheReadInFlight() => WithAReadInFlightAsync(async (_, channel, op) =>
    {
        await channel.DisposeAsync();
        await Assert.ThrowsAnyAsync<Exception>(async () => await op.AsValueTask());
        Assert.True(op.Faulted);
    });

    // A channel to a pair's primary with one READ posted while the primary is frozen (thawed at the end, if not before).
    private static async Task WithAReadInFlightAsync(Func<PairFixture, NodeChannel, PendingOperation, Task> test)
    {
        await using PairFixture pair = await PairFixture.StartAsync();
        (NodeChannel channel, RemotePointer pointer) = await ConnectWithAPointerAsync(pair);
        pair.Network.Freeze(PairFixture.PrimaryAddress);
        PendingOperation op = channel.Rent();
        try
        {
            channel.PostRead(op, Opcode.Read, pointer, flush: true);
            await test(pair, channel, op);
        }
        finally
        {
            pair.Network.Thaw(PairFixture.PrimaryAddress);
            channel.Return(op);
        }
    }

    private static async Task<(NodeChannel Channel, RemotePointer Pointer)> ConnectWithAPointerAsync(PairFixture pair)
    {
        await using (MirrorKvClient client = await pair.ConnectClientAsync())
        {
            await client.SetAsync("k", "v"u8.ToArray());
        }

        Assert.True(pair.Primary.Store.TryLookup("k"u8, out RemotePointer pointer, out _));
        NodeChannel channel = await NodeChannel.ConnectAsync(
            pair.Network.CreateTransport(ClientAddress), pair.Primary.EndPoint, new NodeChannelOptions(null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10)), _ => { }, CancellationToken.None);
        return (channel, pointer);
    }
}
