using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.Options;
using MirrorKv.Client;

namespace MirrorKv.Extensions.Caching.Tests;

/// <summary>
/// A cache whose pair cannot be reached still reports: its connection gauges say disconnected and for how long,
/// its connect attempts count with the reason, and the calls it answered as misses count; once connected the
/// gauges say so. Measurements are told apart by the <c>mirrorkv.endpoints</c> tag, since other tests of this
/// assembly report on the same meter at the same time.
/// </summary>
public class CacheTelemetryTests
{
    [Fact]
    public async Task CacheThatCannotConnect_ReportsDisconnected_CountsAttemptsAndMissedCalls()
    {
        string endPoint = Ports.FreeEndPoint().ToString();
        using var recorder = new Recorder();
        await using var cache = new MirrorKvCache(Options.Create(new MirrorKvCacheOptions { EndPoints = endPoint, ConnectTimeout = TimeSpan.FromMilliseconds(500) }));

        Assert.Null(await cache.GetAsync("k", TestContext.Current.CancellationToken));
        await cache.SetAsync("k", [1], new(), TestContext.Current.CancellationToken);

        // The gauges are observed, not pushed: observe until the failed attempt is counted and 50 ms have passed
        // since (the gauge's time counts from the cache's start).
        await Waits.UntilAsync(
            () =>
            {
                recorder.Observe();
                return recorder.Sum("mirrorkv.client.connect_attempts", endPoint, ("error.type", "no_answer")) >= 1
                    && (recorder.LastOrNull("mirrorkv.client.time_since_last_success", endPoint) ?? 0) >= 0.05;
            },
            "a failed connect attempt counted and 50 ms without a success",
            context: () => recorder.Describe(endPoint));

        Assert.Equal(0, recorder.Last("mirrorkv.client.connected", endPoint));
        Assert.True(recorder.Last("mirrorkv.client.time_since_last_success", endPoint) >= 0.05, recorder.Describe(endPoint));
        Assert.True(recorder.Sum("mirrorkv.client.connect_attempts", endPoint, ("error.type", "no_answer")) >= 1, recorder.Describe(endPoint));
        Assert.Equal(0, recorder.Sum("mirrorkv.client.connect_attempts", endPoint, ("error.type", null)));
        Assert.Equal(1, recorder.Sum("mirrorkv.cache.unavailable_calls", endPoint, ("db.operation.name", "read")));
        Assert.Equal(1, recorder.Sum("mirrorkv.cache.unavailable_calls", endPoint, ("db.operation.name", "write")));

        // Disposed, it is no longer reported.
        await cache.DisposeAsync();
        recorder.Clear();
        recorder.Observe();
        Assert.Null(recorder.LastOrNull("mirrorkv.client.connected", endPoint));
    }

    [Fact]
    public async Task ConnectedCache_ReportsConnected_AndTheSuccessfulAttempt_ThenDisconnectedWhenBothNodesStop()
    {
        await using TcpPair pair = await TcpPair.StartAsync();
        string endPoint = pair.Primary.EndPoint.ToString();
        using var recorder = new Recorder();
        await using var cache = new MirrorKvCache(Options.Create(new MirrorKvCacheOptions { EndPoints = endPoint }));
        await cache.SetAsync("k", [1], new(), TestContext.Current.CancellationToken);

        // The gauges are observed, not pushed: wait for an observation that sees the connection (a loaded host may
        // have the cache's first connect still in flight when a SET answered as a miss returns).
        await Waits.UntilAsync(
            () =>
            {
                recorder.Observe();
                return recorder.Last("mirrorkv.client.connected", endPoint) == 1;
            },
            "the cache to report its connection",
            context: () => recorder.Describe(endPoint));
        Assert.Equal(0, recorder.Last("mirrorkv.client.time_since_last_success", endPoint));
        Assert.Equal(1, recorder.Sum("mirrorkv.client.connect_attempts", endPoint, ("error.type", null)));

        await pair.StopSecondaryAsync();
        await pair.StopPrimaryAsync();
        await Waits.UntilAsync(() =>
        {
            recorder.Observe();
            return recorder.Last("mirrorkv.client.connected", endPoint) == 0;
        });
        // The time since the last success grows while disconnected (a fixed delay raced the timer: 0.047 s after 50 ms).
        await Waits.UntilAsync(
            () =>
            {
                recorder.Observe();
                return recorder.Last("mirrorkv.client.time_since_last_success", endPoint) >= 0.05;
            },
            "the time since the last success to grow while disconnected",
            context: () => recorder.Describe(endPoint));
    }

    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Instrument, double Value, Dictionary<string, object?> Tags)> _measurements = new();

        public Recorder()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == MirrorKvTelemetry.Name)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
            _listener.Start();
        }

        public void Observe() => _listener.RecordObservableInstruments();

        public void Clear() => _measurements.Clear();

        public double? LastOrNull(string instrument, string endPoints) =>
            Of(instrument, endPoints).Select(m => (double?)m.Value).LastOrDefault();

        public double Last(string instrument, string endPoints) =>
            LastOrNull(instrument, endPoints) ?? throw new Xunit.Sdk.XunitException($"no {instrument} for {endPoints}: {Describe(endPoints)}");

        public double Sum(string instrument, string endPoints, (string Name, string? Value) tag) =>
            Of(instrument, endPoints).Where(m => Equals(m.Tags.GetValueOrDefault(tag.Name), tag.Value)).Sum(m => m.Value);

        public string Describe(string endPoints) =>
            string.Join("; ", _measurements.Where(m => Equals(m.Tags.GetValueOrDefault("mirrorkv.endpoints"), endPoints)).Select(m => $"{m.Instrument}={m.Value} [{string.Join(",", m.Tags.Select(t => $"{t.Key}={t.Value}"))}]"));

        public void Dispose() => _listener.Dispose();

        private IEnumerable<(string Instrument, double Value, Dictionary<string, object?> Tags)> Of(string instrument, string endPoints) =>
            _measurements.Where(m => m.Instrument == instrument && Equals(m.Tags.GetValueOrDefault("mirrorkv.endpoints"), endPoints));

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var dictionary = new Dictionary<string, object?>();
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                dictionary[tag.Key] = tag.Value;
            }

            _measurements.Enqueue((instrument.Name, value, dictionary));
        }
    }
}
