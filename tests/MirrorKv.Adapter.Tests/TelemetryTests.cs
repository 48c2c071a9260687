using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using MirrorKv.Client;

namespace MirrorKv.Adapter.Tests;

/// <summary>The MirrorKv meter and activity source report what the client and the nodes do.</summary>
public class TelemetryTests
{
    [Fact]
    public async Task ClientAndServerInstruments_ReportOperations_AndSpansCarryDbTags()
    {
        var measurements = new ConcurrentBag<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MirrorKvTelemetry.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<double>((i, v, tags, _) => measurements.Add((i.Name, v, ToDictionary(tags))));
        meters.SetMeasurementEventCallback<long>((i, v, tags, _) => measurements.Add((i.Name, v, ToDictionary(tags))));
        meters.SetMeasurementEventCallback<int>((i, v, tags, _) => measurements.Add((i.Name, v, ToDictionary(tags))));
        meters.Start();
        var spans = new ConcurrentBag<Activity>();
        using var activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == MirrorKvTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(activities);

        await using PairFixture pair = await PairFixture.StartAsync();
        MirrorKvClient client = await pair.ConnectClientAsync();
        await client.SetAsync("telemetry", "value"u8.ToArray());
        Assert.NotNull(await client.GetAsync("telemetry"));
        Assert.Null(await client.GetAsync("absent"));
        meters.RecordObservableInstruments();

        Assert.Contains(measurements, m => m.Instrument == "db.client.operation.duration" && Equals(m.Tags["db.operation.name"], "GET") && Equals(m.Tags["db.system.name"], "mirrorkv") && m.Value > 0);
        Assert.Contains(measurements, m => m.Instrument == "db.client.operation.duration" && Equals(m.Tags["db.operation.name"], "SET"));
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.client.reads" && m.Value >= 1);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.reads" && Equals(m.Tags["mirrorkv.node"], pair.Primary.EndPoint.ToString()) && m.Value >= 1);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.writes" && Equals(m.Tags["mirrorkv.role"], "primary") && m.Value >= 1);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.protected" && Equals(m.Tags["mirrorkv.node"], pair.Primary.EndPoint.ToString()) && m.Value == 1);
        Assert.Contains(measurements, m => m.Instrument == "mirrorkv.server.replication.lsn" && Equals(m.Tags["mirrorkv.role"], "secondary") && m.Value >= 1);
        Activity[] gets = [.. spans.Where(a => a.OperationName == "GET" && Equals(a.GetTagItem("server.port"), pair.Primary.EndPoint.Port))];
        Assert.Equal(2, gets.Length);
        Activity get = gets[0];
        Assert.Equal(ActivityKind.Client, get.Kind);
        Assert.Equal("mirrorkv", get.GetTagItem("db.system.name"));
    }

    private static Dictionary<string, object?> ToDictionary(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var result = new Dictionary<string, object?>();
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            result[tag.Key] = tag.Value;
        }

        return result;
    }
}
