using System.Collections.Concurrent;
using System.Text;
using MirrorKv.Client;

namespace MirrorKv.IntegrationTests;

/// <summary>
/// A writer that updates 200 keys in turn until stopped and remembers the last acknowledged value of each,
/// so that a test can check them on the final primary; counts what was acknowledged and what failed.
/// </summary>
internal sealed class CheckedWriter
{
    private readonly ConcurrentDictionary<string, string> _latest = new();
    private long _acknowledged;

    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    /// <summary>Each failed write as "Error: message".</summary>
    public ConcurrentQueue<string> Errors { get; } = new();

    /// <summary>Failed writes whose error was not <see cref="MirrorKvError.Unavailable"/> (a failover must never produce one).</summary>
    public IEnumerable<string> ErrorsOtherThanUnavailable => Errors.Where(e => !e.StartsWith($"{MirrorKvError.Unavailable}:", StringComparison.Ordinal));

    private CancellationTokenSource? _stop;
    private Task _running = Task.CompletedTask;

    /// <summary>A writer running on <paramref name="client"/> until <see cref="StopAsync"/>.</summary>
    public static CheckedWriter Start(MirrorKvClient client, string prefix)
    {
        var writer = new CheckedWriter { _stop = new CancellationTokenSource() };
        writer._running = writer.RunAsync(client, prefix, writer._stop.Token);
        return writer;
    }

    /// <summary>Stops a writer begun with <see cref="Start"/> and waits for its last write.</summary>
    public async Task StopAsync()
    {
        if (_stop is { } stop)
        {
            await stop.CancelAsync();
            await _running;
            stop.Dispose();
            _stop = null;
        }
    }

    public async Task RunAsync(MirrorKvClient client, string prefix, CancellationToken stop)
    {
        for (int i = 0; !stop.IsCancellationRequested; i++)
        {
            string key = $"{prefix}{i % 200}";
            string value = $"{i}";
            try
            {
                await client.SetAsync(key, Encoding.UTF8.GetBytes(value));
                _latest[key] = value;
                Interlocked.Increment(ref _acknowledged);
            }
            catch (MirrorKvException e)
            {
                // Not acknowledged: the key may hold this value or an earlier one, so it is not checked.
                Errors.Enqueue($"{e.Error}: {e.Message}");
                _latest.TryRemove(key, out _);
                await Task.Delay(20);
            }
        }
    }

    /// <summary>Every key's last acknowledged value is what <paramref name="client"/> reads now.</summary>
    public async Task AssertAllReadableAsync(MirrorKvClient client)
    {
        foreach ((string key, string value) in _latest)
        {
            Assert.Equal(value, Encoding.UTF8.GetString((await client.GetAsync(key)) ?? []));
        }
    }
}
