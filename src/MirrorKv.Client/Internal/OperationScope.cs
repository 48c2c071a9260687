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

    public OperationScope(string operation, IPEndPoint server)
    {
        _operation = operation;
        _server = server;
        _activity = MirrorKvTelemetry.Source.StartActivity(operation, ActivityKind.Client);
        if (_activity is not null)
        {
            _activity.SetTag("db.system.name", MirrorKvTelemetry.SystemName);
            _activity.SetTag("db.operation.name", operation);
            _activity.SetTag("server.address", server.Address.ToString());
            _activity.SetTag("server.port", server.Port);
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
