using System.Text;
using MirrorKv.Adapter;
using MirrorKv.Client;
using MirrorKv.Entries;
using MirrorKv.Memory;
using MirrorKv.Protocol;
using MirrorKv.Store;
using MirrorKv.Transport.InProcess;

namespace MirrorKv.Adapter.Tests;

/// <summary>
/// The joining secondary's bulk slab copy through the adapter: whole slabs read one-sided while clients keep
/// writing (overwrites in place, relocations across size classes, deletes), applied beside the stream.
/// </summary>
public class RejoinCopyTests
{
    private const int Keys = 2000;

    [Fact]
    public async Task Join_BulkCopyRacingWrites_EndsIdenticalToPrimary()
    {
        var network = new InProcessNetwork();
        await using MirrorKvNode primary = await PairFixture.StartPrimaryAsync(network);
        await using MirrorKvClient loader = await Connect(network, primary);
        for (int i = 0; i < Keys; i++)
        {
            await loader.SetAsync(Key(i), Value(i, 0));
        }

        using var stop = new CancellationTokenSource();
        Task[] writers = [.. Enumerable.Range(0, 2).Select(w => Task.Run(() => WriteUntilAsync(network, primary, w, stop.Token)))];
        await Waits.UntilAsync(() => primary.Lsn > Keys + 50);

        await using MirrorKvNode secondary = await PairFixture.StartSecondaryAsync(network, PairFixture.SecondaryAddress, primary.EndPoint);
        await Waits.UntilAsync(() => primary.IsProtected && secondary.IsProtected, seconds: 20);
        ulong lsnAtProtection = primary.Lsn;
        await Waits.UntilAsync(() => primary.Lsn > lsnAtProtection + 50);
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        await Waits.UntilAsync(() => secondary.Lsn == primary.Lsn);

        Assert.Equal(NodeRole.Secondary, secondary.Role);
        TranslationSnapshot translation = secondary.Store.Translation!.Current;
        Assert.True(translation.CountDistinctDeltas() >= 2);
        int live = 0;
        for (int i = 0; i < Keys; i++)
        {
            byte[] key = Encoding.UTF8.GetBytes(Key(i));
            bool onPrimary = primary.Store.TryLookup(key, out RemotePointer pointer, out ulong version);
            Assert.Equal(onPrimary, secondary.Store.TryLookup(key, out RemotePointer local, out ulong localVersion));
            if (!onPrimary)
            {
                continue;
            }

            live++;
            Assert.Equal(version, localVersion);
            Assert.Equal(translation.Translate(pointer), local);
            Span<byte> primarySlot = primary.Store.SpanAt(pointer);
            Span<byte> secondarySlot = secondary.Store.SpanAt(local);
            Assert.Equal(EntryStatus.Ok, EntryValidator.Validate(secondarySlot, key, version, out ValidatedEntry entry));
            Assert.Equal(primarySlot[..(entry.ValueOffset + entry.ValueLength)].ToArray(), secondarySlot[..(entry.ValueOffset + entry.ValueLength)].ToArray());
        }

        Assert.Equal((ulong)live, (ulong)secondary.Store.GetStats().Entries);
        Assert.Equal(primary.Store.GetStats().Entries, secondary.Store.GetStats().Entries);
    }

    private static async Task WriteUntilAsync(InProcessNetwork network, MirrorKvNode primary, int writer, CancellationToken stop)
    {
        await using MirrorKvClient client = await Connect(network, primary);
        var random = new Random(writer);
        for (int generation = 1; !stop.IsCancellationRequested; generation++)
        {
            int i = random.Next(Keys);
            if (random.Next(8) == 0)
            {
                await client.DeleteAsync(Key(i));
            }
            else
            {
                await client.SetAsync(Key(i), Value(i, generation + (writer * 1_000_000)));
            }
        }
    }

    private static Task<MirrorKvClient> Connect(InProcessNetwork network, MirrorKvNode primary) =>
        MirrorKvClient.ConnectAsync(new MirrorKvClientOptions { EndPoints = [primary.EndPoint], Transport = network.CreateTransport(PairFixture.ClientAddress) });

    private static string Key(int i) => $"k{i}";

    // Sizes across several classes, changing with the generation: in-place overwrites and relocations both happen.
    private static byte[] Value(int key, int generation) => Encoding.UTF8.GetBytes($"v{key}-{generation}-" + new string('x', (key + generation) % 7 * 150));
}
