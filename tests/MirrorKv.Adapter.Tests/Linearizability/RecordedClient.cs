using System.Globalization;
using System.Text;
using MirrorKv.Client;
using MirrorKv.Linearizability;

namespace MirrorKv.Adapter.Tests;

/// <summary>A <see cref="MirrorKvClient"/> whose reads go into a history; values are decimal numbers.</summary>
internal sealed class RecordedClient(MirrorKvClient client, HistoryRecorder history)
{
    public MirrorKvClient Client => client;

    public async Task<long?> GetAsync(string key)
    {
        long id = history.InvokeRead(key);
        try
        {
            byte[]? value = await client.GetAsync(key);
            long? seen = value is null ? null : long.Parse(Encoding.ASCII.GetString(value), CultureInfo.InvariantCulture);
            history.Complete(id, Outcome.Ok, seen);
            return seen;
        }
        catch (MirrorKvException)
        {
            history.Complete(id, Outcome.Fail);
            throw;
        }
    }

    public async Task SetAsync(string key, long value)
    {
        long id = history.InvokeWrite(key, value);
        try
        {
            await client.SetAsync(key, Bytes(value));
            history.Complete(id, Outcome.Ok);
        }
        catch (MirrorKvException)
        {
            // Refused or timed out: it may have reached a node, so it may still take effect.
            history.Complete(id, Outcome.Unknown);
            throw;
        }
    }

    public static byte[] Bytes(long value) => Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture));
}
