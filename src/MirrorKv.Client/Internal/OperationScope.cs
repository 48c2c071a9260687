using System.Diagnostics;
using System.Net;

namespace MirrorKv.Client;

/// <summary>
/// Times one client operation and, when someone listens, traces it as a client span. Created only when
/// <see cref="MirrorKvTelemetry.Active"/>, so that an unobserved client pays nothing for it.
/// </summary>
internal readonly struct OperationScope
{
    private readonly long _start;
    private readonly Activity? _activity;
    private readonly string _operation;
    private readonly IPEndPoint _server;
    private readonly int _batchSize;

    /// <param name="operation">db.operation.name.</param>
    /// <param name="server">The node the operation goes to first.</param>
    /// <param name="batchSize">Keys in a batch operation; reported as db.operation.batch.size from 2 on (the
    /// conventions call an operation on one key no batch).</param>
    public OperationScope(string operation, IPEndPoint server, int batchSize = 0)
    {
        _operation = operation;
        _server = server;
        _batchSize = batchSize;
        _activity = MirrorKvTelemetry.Source.StartActivity(operation, ActivityKind.Client);
        if (_activity is not null)
        {
            _activity.SetTag("db.system.name", MirrorKvTelemetry.SystemName);
            _activity.SetTag("db.operation.name", operation);
            _activity.SetTag("server.address", server.Address.ToString());
            _activity.SetTag("server.port", server.Port);
            if (batchSize >= 2)
            {
                _activity.SetTag("db.operation.batch.size", batchSize);
            }
        }

        _start = Stopwatch.GetTimestamp();
    }

    public void End(Exception? error)
    {
        if (MirrorKvTelemetry.OperationDuration.Enabled)
        {
            var tags = new TagList
            {
                { "db.system.name", MirrorKvTelemetry.SystemName },
                { "db.operation.name", _operation },
                { "server.address", _server.Address.ToString() },
                { "server.port", _server.Port },
            };
            if (_batchSize >= 2)
            {
                tags.Add("db.operation.batch.size", _batchSize);
            }

            if (error is not null)
            {
                tags.Add("error.type", error is MirrorKvException kv ? kv.Error.ToString() : error.GetType().FullName);
            }

            MirrorKvTelemetry.OperationDuration.Record(Stopwatch.GetElapsedTime(_start).TotalSeconds, tags);
        }

        if (_activity is not null)
        {
            if (error is not null)
            {
                _activity.SetStatus(ActivityStatusCode.Error, error.Message);
                _activity.SetTag("error.type", error is MirrorKvException kv ? kv.Error.ToString() : error.GetType().FullName);
            }

            _activity.Dispose();
        }
    }
}
