using System.Net;
using MirrorKv.Client;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// The one-sided path takes no lock of the replication path: READs are served while a writer is stopped in the
/// middle of posting its record, holding the replication stream's lock and the peer link's send lock.
/// </summary>
public class ReadPathLockTests
{
    [Fact]
    public async Task Read_WhileAWriterHoldsTheReplicationLock_IsServed()
    {
        // Heartbeats every second: the primary's lease (five of them) outlasts the hold, during which its
        // heartbeats cannot leave, by far; with the default 100 ms it would fence under a slow test.
        var network = new InProcessNetwork();
        await using MirrorKvNode primary = await MirrorKvNode.StartAsync(Options(network, PairFixture.PrimaryAddress, NodeRole.Primary, null), network.CreateTransport(PairFixture.PrimaryAddress));
        await using MirrorKvNode secondary = await MirrorKvNode.StartAsync(Options(network, PairFixture.SecondaryAddress, NodeRole.Secondary, primary.EndPoint), network.CreateTransport(PairFixture.SecondaryAddress));
        await Waits.UntilAsync(() => primary.IsProtected && secondary.IsProtected, seconds: 30);

        await using MirrorKvClient writer = await MirrorKvClient.ConnectAsync(new MirrorKvClientOptions
        {
            EndPoints = [primary.EndPoint],
            Transport = network.CreateTransport(PairFixture.ClientAddress),
            RequestTimeout = TimeSpan.FromSeconds(10),
        });
        await writer.SetAsync("read-me", "one-sided"u8.ToArray());
        Assert.True(primary.Store.TryLookup("read-me"u8, out RemotePointer pointer, out _, out bool pending) && !pending);
        RawClient reader = await RawClient.ConnectAsync(new PairFixture.Handle(network), primary.EndPoint);

        using var reserved = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int held = 0;
        primary.Stream.WhileRecordReserved = () =>
        {
            if (Interlocked.Exchange(ref held, 1) == 0)
            {
                reserved.Set();
                release.Wait(TimeSpan.FromSeconds(20));
            }
        };

        Task write = writer.SetAsync("stuck", "while-posting"u8.ToArray()).AsTask();
        try
        {
            Assert.True(reserved.Wait(TimeSpan.FromSeconds(10)), "the write never reached the replication stream");
            for (int i = 0; i < 20; i++)
            {
                // RawClient gives up after 2 s: a READ batch that waited for the writer's locks would time out here.
                (WireStatus status, byte[] entry) = await reader.ReadAsync(pointer);
                Assert.Equal(WireStatus.Ok, status);
                Assert.True(entry.AsSpan().IndexOf("one-sided"u8) >= 0, "the READ did not return the entry");
            }

            Assert.False(write.IsCompleted, "the writer was released before the reads were checked");
        }
        finally
        {
            release.Set();
        }

        await write.WaitAsync(TimeSpan.FromSeconds(10));
        primary.Stream.WhileRecordReserved = null;
    }

    private static NodeOptions Options(InProcessNetwork network, IPAddress address, NodeRole role, IPEndPoint? primary) => new()
    {
        Role = role,
        ListenEndPoint = new IPEndPoint(address, 7400),
        PrimaryEndPoint = primary,
        Store = PairFixture.SmallStore,
        MaxFrameSize = 1 << 20,
        TimeProvider = network.TimeFor(address),
        HeartbeatInterval = TimeSpan.FromSeconds(1),
    };
}
