package dev.polytrack.client;

import dev.polytrack.v1.*;

/**
 * The ModelRegistryService RPCs (registered models, versions, aliases, stages).
 *
 * <p>One method per RPC, taking and returning the generated messages. Each call carries the client's
 * credentials and deadline; RPCs that are safe to repeat (reads, and writes that set a state) are retried
 * on transient failures under the client's {@link RetryPolicy}. Failures raise {@link PolytrackException}.
 * Obtain it from {@link PolytrackClient#registry()}.
 */
public final class Registry {
    private final RpcInvoker invoker;

    Registry(RpcInvoker invoker) {
        this.invoker = invoker;
    }

    /**
     * Registers a new model name. Fails with RESOURCE_ALREADY_EXISTS if a model has the name.
     *
     * @param request the CreateRegisteredModelRequest
     * @return the server's CreateRegisteredModelResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public CreateRegisteredModelResponse createRegisteredModel(CreateRegisteredModelRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getCreateRegisteredModelMethod(), request);
    }

    /**
     * Returns a registered model with its latest version per stage, tags and aliases.
     *
     * @param request the GetRegisteredModelRequest
     * @return the server's GetRegisteredModelResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public GetRegisteredModelResponse getRegisteredModel(GetRegisteredModelRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getGetRegisteredModelMethod(), request);
    }

    /**
     * Renames a registered model; its versions, tags and aliases follow it.
     *
     * @param request the RenameRegisteredModelRequest
     * @return the server's RenameRegisteredModelResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public RenameRegisteredModelResponse renameRegisteredModel(RenameRegisteredModelRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getRenameRegisteredModelMethod(), request);
    }

    /**
     * Changes a registered model's description (and deployment job id).
     *
     * @param request the UpdateRegisteredModelRequest
     * @return the server's UpdateRegisteredModelResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public UpdateRegisteredModelResponse updateRegisteredModel(UpdateRegisteredModelRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getUpdateRegisteredModelMethod(), request);
    }

    /**
     * Deletes a registered model with all of its versions, tags and aliases, for good.
     *
     * @param request the DeleteRegisteredModelRequest
     * @return the server's DeleteRegisteredModelResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public DeleteRegisteredModelResponse deleteRegisteredModel(DeleteRegisteredModelRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getDeleteRegisteredModelMethod(), request);
    }

    /**
     * Searches registered models with a filter, an ordering and pages. POST is accepted too, as the R client
     * sends it.
     *
     * @param request the SearchRegisteredModelsRequest
     * @return the server's SearchRegisteredModelsResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public SearchRegisteredModelsResponse searchRegisteredModels(SearchRegisteredModelsRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getSearchRegisteredModelsMethod(), request);
    }

    /**
     * Returns the highest version in each of the requested stages (all four by default).
     *
     * @param request the GetLatestVersionsRequest
     * @return the server's GetLatestVersionsResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public GetLatestVersionsResponse getLatestVersions(GetLatestVersionsRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getGetLatestVersionsMethod(), request);
    }

    /**
     * Sets (inserts or overwrites) a tag on a registered model.
     *
     * @param request the SetRegisteredModelTagRequest
     * @return the server's SetRegisteredModelTagResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public SetRegisteredModelTagResponse setRegisteredModelTag(SetRegisteredModelTagRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getSetRegisteredModelTagMethod(), request);
    }

    /**
     * Deletes a tag from a registered model. Deleting a tag the model lacks succeeds.
     *
     * @param request the DeleteRegisteredModelTagRequest
     * @return the server's DeleteRegisteredModelTagResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public DeleteRegisteredModelTagResponse deleteRegisteredModelTag(DeleteRegisteredModelTagRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getDeleteRegisteredModelTagMethod(), request);
    }

    /**
     * Points an alias at a version, moving it if it pointed elsewhere.
     *
     * @param request the SetRegisteredModelAliasRequest
     * @return the server's SetRegisteredModelAliasResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public SetRegisteredModelAliasResponse setRegisteredModelAlias(SetRegisteredModelAliasRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getSetRegisteredModelAliasMethod(), request);
    }

    /**
     * Removes an alias. Removing an alias the model lacks succeeds.
     *
     * @param request the DeleteRegisteredModelAliasRequest
     * @return the server's DeleteRegisteredModelAliasResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public DeleteRegisteredModelAliasResponse deleteRegisteredModelAlias(DeleteRegisteredModelAliasRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getDeleteRegisteredModelAliasMethod(), request);
    }

    /**
     * Returns the version an alias points to; the reserved alias `latest` names the highest version.
     *
     * @param request the GetModelVersionByAliasRequest
     * @return the server's GetModelVersionByAliasResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public GetModelVersionByAliasResponse getModelVersionByAlias(GetModelVersionByAliasRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getGetModelVersionByAliasMethod(), request);
    }

    /**
     * Registers a new version of a model from a source location, with status READY and stage None.
     *
     * @param request the CreateModelVersionRequest
     * @return the server's CreateModelVersionResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public CreateModelVersionResponse createModelVersion(CreateModelVersionRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getCreateModelVersionMethod(), request);
    }

    /**
     * Returns one version of a registered model.
     *
     * @param request the GetModelVersionRequest
     * @return the server's GetModelVersionResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public GetModelVersionResponse getModelVersion(GetModelVersionRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getGetModelVersionMethod(), request);
    }

    /**
     * Changes a model version's description.
     *
     * @param request the UpdateModelVersionRequest
     * @return the server's UpdateModelVersionResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public UpdateModelVersionResponse updateModelVersion(UpdateModelVersionRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getUpdateModelVersionMethod(), request);
    }

    /**
     * Deletes a model version. Its number is never reused and its aliases are removed.
     *
     * @param request the DeleteModelVersionRequest
     * @return the server's DeleteModelVersionResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public DeleteModelVersionResponse deleteModelVersion(DeleteModelVersionRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getDeleteModelVersionMethod(), request);
    }

    /**
     * Searches the versions of every registered model with a filter, an ordering and pages.
     *
     * @param request the SearchModelVersionsRequest
     * @return the server's SearchModelVersionsResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public SearchModelVersionsResponse searchModelVersions(SearchModelVersionsRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getSearchModelVersionsMethod(), request);
    }

    /**
     * Sets (inserts or overwrites) a tag on a model version.
     *
     * @param request the SetModelVersionTagRequest
     * @return the server's SetModelVersionTagResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public SetModelVersionTagResponse setModelVersionTag(SetModelVersionTagRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getSetModelVersionTagMethod(), request);
    }

    /**
     * Deletes a tag from a model version. Deleting a tag the version lacks succeeds.
     *
     * @param request the DeleteModelVersionTagRequest
     * @return the server's DeleteModelVersionTagResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public DeleteModelVersionTagResponse deleteModelVersionTag(DeleteModelVersionTagRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getDeleteModelVersionTagMethod(), request);
    }

    /**
     * Moves a model version to another stage (deprecated in favour of aliases).
     *
     * @param request the TransitionModelVersionStageRequest
     * @return the server's TransitionModelVersionStageResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public TransitionModelVersionStageResponse transitionModelVersionStage(TransitionModelVersionStageRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getTransitionModelVersionStageMethod(), request);
    }

    /**
     * Returns where the files of a model version are stored.
     *
     * @param request the GetModelVersionDownloadUriRequest
     * @return the server's GetModelVersionDownloadUriResponse
     * @throws PolytrackException when the server refuses the call or cannot be reached
     */
    public GetModelVersionDownloadUriResponse getModelVersionDownloadUri(GetModelVersionDownloadUriRequest request) {
        return invoker.call(ModelRegistryServiceGrpc.getGetModelVersionDownloadUriMethod(), request);
    }

}
