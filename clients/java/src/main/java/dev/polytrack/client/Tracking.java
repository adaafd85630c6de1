package dev.polytrack.client;

import dev.polytrack.v1.*;

/**
 * The TrackingService RPCs (experiments, runs, params, metrics, tags, inputs, logged models).
 *
 * <p>One method per RPC, taking and returning the generated messages. Each call carries the client's
 * credentials and deadline; RPCs that are safe to repeat (reads, and writes that set a state) are retried
 * on transient failures under the client's {@link RetryPolicy}. Failures raise {@link PolytrackException}.
 * Obtain it from {@link PolytrackClient#tracking()}.
 */
public final class Tracking {
    private final RpcInvoker invoker;

    Tracking(RpcInvoker invoker) {
        this.invoker = invoker;
    }

    /**
     * Creates an experiment. Fails with RESOURCE_ALREADY_EXISTS if an experiment, active or deleted, has the name.
     *
     * @param request the CreateExperimentRequest
     * @return the server's CreateExperimentResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public CreateExperimentResponse createExperiment(CreateExperimentRequest request) {
        return invoker.call(TrackingServiceGrpc.getCreateExperimentMethod(), request);
    }

    /**
     * Returns an experiment by id, whether active or deleted.
     *
     * @param request the GetExperimentRequest
     * @return the server's GetExperimentResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public GetExperimentResponse getExperiment(GetExperimentRequest request) {
        return invoker.call(TrackingServiceGrpc.getGetExperimentMethod(), request);
    }

    /**
     * Returns an experiment by name, whether active or deleted.
     *
     * @param request the GetExperimentByNameRequest
     * @return the server's GetExperimentByNameResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public GetExperimentByNameResponse getExperimentByName(GetExperimentByNameRequest request) {
        return invoker.call(TrackingServiceGrpc.getGetExperimentByNameMethod(), request);
    }

    /**
     * Searches experiments with a filter, an ordering and pages.
     *
     * @param request the SearchExperimentsRequest
     * @return the server's SearchExperimentsResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public SearchExperimentsResponse searchExperiments(SearchExperimentsRequest request) {
        return invoker.call(TrackingServiceGrpc.getSearchExperimentsMethod(), request);
    }

    /**
     * Renames an active experiment.
     *
     * @param request the UpdateExperimentRequest
     * @return the server's UpdateExperimentResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public UpdateExperimentResponse updateExperiment(UpdateExperimentRequest request) {
        return invoker.call(TrackingServiceGrpc.getUpdateExperimentMethod(), request);
    }

    /**
     * Marks an experiment and all of its runs deleted.
     *
     * @param request the DeleteExperimentRequest
     * @return the server's DeleteExperimentResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public DeleteExperimentResponse deleteExperiment(DeleteExperimentRequest request) {
        return invoker.call(TrackingServiceGrpc.getDeleteExperimentMethod(), request);
    }

    /**
     * Restores a deleted experiment and all of its runs.
     *
     * @param request the RestoreExperimentRequest
     * @return the server's RestoreExperimentResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public RestoreExperimentResponse restoreExperiment(RestoreExperimentRequest request) {
        return invoker.call(TrackingServiceGrpc.getRestoreExperimentMethod(), request);
    }

    /**
     * Sets (inserts or overwrites) a tag on an experiment.
     *
     * @param request the SetExperimentTagRequest
     * @return the server's SetExperimentTagResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public SetExperimentTagResponse setExperimentTag(SetExperimentTagRequest request) {
        return invoker.call(TrackingServiceGrpc.getSetExperimentTagMethod(), request);
    }

    /**
     * Deletes a tag from an experiment.
     *
     * @param request the DeleteExperimentTagRequest
     * @return the server's DeleteExperimentTagResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public DeleteExperimentTagResponse deleteExperimentTag(DeleteExperimentTagRequest request) {
        return invoker.call(TrackingServiceGrpc.getDeleteExperimentTagMethod(), request);
    }

    /**
     * Creates a run in an active experiment, with status RUNNING.
     *
     * @param request the CreateRunRequest
     * @return the server's CreateRunResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public CreateRunResponse createRun(CreateRunRequest request) {
        return invoker.call(TrackingServiceGrpc.getCreateRunMethod(), request);
    }

    /**
     * Updates a run's status, end time or name.
     *
     * @param request the UpdateRunRequest
     * @return the server's UpdateRunResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public UpdateRunResponse updateRun(UpdateRunRequest request) {
        return invoker.call(TrackingServiceGrpc.getUpdateRunMethod(), request);
    }

    /**
     * Marks a run deleted. Idempotent.
     *
     * @param request the DeleteRunRequest
     * @return the server's DeleteRunResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public DeleteRunResponse deleteRun(DeleteRunRequest request) {
        return invoker.call(TrackingServiceGrpc.getDeleteRunMethod(), request);
    }

    /**
     * Restores a deleted run. Idempotent.
     *
     * @param request the RestoreRunRequest
     * @return the server's RestoreRunResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public RestoreRunResponse restoreRun(RestoreRunRequest request) {
        return invoker.call(TrackingServiceGrpc.getRestoreRunMethod(), request);
    }

    /**
     * Returns a run with its latest metrics, params, tags, inputs and outputs.
     *
     * @param request the GetRunRequest
     * @return the server's GetRunResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public GetRunResponse getRun(GetRunRequest request) {
        return invoker.call(TrackingServiceGrpc.getGetRunMethod(), request);
    }

    /**
     * Searches the runs of one or more experiments with a filter, an ordering and pages.
     *
     * @param request the SearchRunsRequest
     * @return the server's SearchRunsResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public SearchRunsResponse searchRuns(SearchRunsRequest request) {
        return invoker.call(TrackingServiceGrpc.getSearchRunsMethod(), request);
    }

    /**
     * Sets (inserts or overwrites) a tag on a run.
     *
     * @param request the SetTagRequest
     * @return the server's SetTagResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public SetTagResponse setTag(SetTagRequest request) {
        return invoker.call(TrackingServiceGrpc.getSetTagMethod(), request);
    }

    /**
     * Deletes a tag from a run.
     *
     * @param request the DeleteTagRequest
     * @return the server's DeleteTagResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public DeleteTagResponse deleteTag(DeleteTagRequest request) {
        return invoker.call(TrackingServiceGrpc.getDeleteTagMethod(), request);
    }

    /**
     * Logs one metric measurement for a run.
     *
     * @param request the LogMetricRequest
     * @return the server's LogMetricResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public LogMetricResponse logMetric(LogMetricRequest request) {
        return invoker.call(TrackingServiceGrpc.getLogMetricMethod(), request);
    }

    /**
     * Logs one param for a run.
     *
     * @param request the LogParamRequest
     * @return the server's LogParamResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public LogParamResponse logParam(LogParamRequest request) {
        return invoker.call(TrackingServiceGrpc.getLogParamMethod(), request);
    }

    /**
     * Logs metrics, params and tags for a run in one atomic write.
     *
     * @param request the LogBatchRequest
     * @return the server's LogBatchResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public LogBatchResponse logBatch(LogBatchRequest request) {
        return invoker.call(TrackingServiceGrpc.getLogBatchMethod(), request);
    }

    /**
     * Logs datasets and models used by a run.
     *
     * @param request the LogInputsRequest
     * @return the server's LogInputsResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public LogInputsResponse logInputs(LogInputsRequest request) {
        return invoker.call(TrackingServiceGrpc.getLogInputsMethod(), request);
    }

    /**
     * Returns every measurement of one metric of a run.
     *
     * @param request the GetMetricHistoryRequest
     * @return the server's GetMetricHistoryResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public GetMetricHistoryResponse getMetricHistory(GetMetricHistoryRequest request) {
        return invoker.call(TrackingServiceGrpc.getGetMetricHistoryMethod(), request);
    }

    /**
     * Returns an evenly sampled history of one metric for several runs.
     *
     * @param request the GetMetricHistoryBulkIntervalRequest
     * @return the server's GetMetricHistoryBulkIntervalResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public GetMetricHistoryBulkIntervalResponse getMetricHistoryBulkInterval(GetMetricHistoryBulkIntervalRequest request) {
        return invoker.call(TrackingServiceGrpc.getGetMetricHistoryBulkIntervalMethod(), request);
    }

    /**
     * Searches logged models. polytrack does not store logged models (no RPC creates one), so the
     * answer is always an empty page; MLflow clients call it while listing a run's artifacts, to
     * merge in the artifacts of a model logged by the run.
     *
     * @param request the SearchLoggedModelsRequest
     * @return the server's SearchLoggedModelsResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public SearchLoggedModelsResponse searchLoggedModels(SearchLoggedModelsRequest request) {
        return invoker.call(TrackingServiceGrpc.getSearchLoggedModelsMethod(), request);
    }

    /**
     * Lists the artifacts of a run directly under `path` (its artifact root when unset), as stored by
     * the server. Lists nothing (only `root_uri`) when `path` is missing or is a file.
     *
     * @param request the ListArtifactsRequest
     * @return the server's ListArtifactsResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public ListArtifactsResponse listArtifacts(ListArtifactsRequest request) {
        return invoker.call(TrackingServiceGrpc.getListArtifactsMethod(), request);
    }

}
