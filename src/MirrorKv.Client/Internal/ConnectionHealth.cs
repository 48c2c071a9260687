using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MirrorKv.Client;

/// <summary>
/// Whether a client reaches a primary, and since when it has not: what the connection gauges report. It outlives
/// a client that could not connect, so that a cache whose pair is down still shows as disconnected (and for
/// how long) instead of publishing nothing. Changed only at transitions, never per operation.
/// </summary>
internal sealed class ConnectionHealth
{
    private static readonly ConcurrentDictionary<ConnectionHealth, byte> Live = new();

    private readonly KeyValuePair<string, object?> _tag;
    private long _lostAt;
    private int _connected;

    public ConnectionHealth(string endPoints)
    {
        _tag = new KeyValuePair<string, object?>("mirrorkv.endpoints", endPoints);
        _lostAt = Stopwatch.GetTimestamp();
    }

    /// <summary>The <c>mirrorkv.endpoints</c> tag: the configured endpoints, which tell one client or cache from another.</summary>
    public KeyValuePair<string, object?> Tag => _tag;

    /// <summary>True while the client has a primary to write to.</summary>
    public bool Connected => Volatile.Read(ref _connected) == 1;

    /// <summary>Starts reporting this client (or cache) in the gauges.</summary>
    public void Register()
    {
        // The gauges live in MirrorKvTelemetry's static fields: touch them, so that they exist before any operation.
        GC.KeepAlive(MirrorKvTelemetry.Connected);
        Live.TryAdd(this, 0);
    }

    /// <summary>Stops reporting it.</summary>
    public void Unregister() => Live.TryRemove(this, out _);

    /// <summary>A primary was adopted.</summary>
    public void Reached() => Volatile.Write(ref _connected, 1);

    /// <summary>The primary failed or stopped serving; the clock of <c>time_since_last_success</c> starts.</summary>
    public void Lost()
    {
        if (Interlocked.Exchange(ref _connected, 0) == 1)
        {
            Volatile.Write(ref _lostAt, Stopwatch.GetTimestamp());
        }
    }

    internal static IEnumerable<Measurement<int>> ObserveConnected()
    {
        foreach (ConnectionHealth health in Live.Keys)
        {
            yield return new Measurement<int>(health.Connected ? 1 : 0, health._tag);
        }
    }

    internal static IEnumerable<Measurement<double>> ObserveTimeSinceLastSuccess()
    {
        foreach (ConnectionHealth health in Live.Keys)
        {
            double seconds = health.Connected ? 0 : Stopwatch.GetElapsedTime(Volatile.Read(ref health._lostAt)).TotalSeconds;
            yield return new Measurement<double>(seconds, health._tag);
        }
    }
}
